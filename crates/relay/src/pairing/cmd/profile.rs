//! `profile`: the technician's display name and avatar, shown to the
//! customers it serves from then on.

use lotse_protocol::ErrorCode;
use lotse_protocol::limits::{NAME_CHARS, check_chars};

use crate::pairing::state::Tech;
use crate::pairing::{Handled, Hub, Link, avatar_too_large, err};

impl Hub {
    pub(super) fn profile(
        t: &mut Tech,
        link: &Link,
        display_name: &str,
        avatar: Option<String>,
    ) -> Handled {
        let name = display_name.trim();
        if avatar.as_deref().is_some_and(avatar_too_large) {
            link.send_env(&err(
                ErrorCode::TooLarge,
                "the avatar may have at most 40 KiB",
            ));
            return Handled::Strike;
        }
        if name.is_empty() || check_chars(name, NAME_CHARS).is_err() {
            link.send_env(&err(
                ErrorCode::Malformed,
                "display name 1 to 80 characters",
            ));
            return Handled::Strike;
        }
        t.display_name = name.to_owned();
        t.avatar = avatar;
        Handled::Ok
    }
}
