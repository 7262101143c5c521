//! Every size limit of the protocol, in one place. Each party checks these
//! *before* it sends (the client's and the web chat's fields stop at the
//! limit and say so) and the relay checks them again on arrival (`too_large`
//! for anything over a limit). Text limits count Unicode scalar values
//! (`str::chars`), byte limits count bytes.
//!
//! The text limits are chosen so that every message the relay composes from
//! texts within them fits in [`crate::MAX_TEXT_BYTES`] with room for the
//! fields the relay adds (`session`, `from`, `at_ms`, ...): the worst case of
//! a text is 6 JSON bytes per character (`\u001f`).

/// A customer's or technician's display name.
pub const NAME_CHARS: usize = 80;
/// Each of a site's customer texts (agreement, recording prompt, greeting,
/// hold, survey, no-technician), checked when the relay reads its
/// configuration; together the texts of one language must also fit in one
/// `welcome`.
pub const SITE_TEXT_CHARS: usize = 8000;
/// A customer's problem description.
pub const PROBLEM_CHARS: usize = 4000;
/// One chat line.
pub const CHAT_CHARS: usize = 4000;
/// A custom notice text a technician writes.
pub const NOTICE_CHARS: usize = 1000;
/// A file's name in an offer.
pub const FILE_NAME_CHARS: usize = 255;
/// The comment of an exit survey answer.
pub const SURVEY_COMMENT_CHARS: usize = 2000;
/// How much of a problem description a `queue` entry carries (a preview,
/// ending in `…` when shortened); `session_started` has the whole text.
pub const QUEUE_PROBLEM_CHARS: usize = 200;
/// Chat lines a customer may write before a technician serves the session
/// (the waiting room); further lines get `error{code:"too_many"}`.
pub const WAITING_CHAT_LINES: usize = 50;
/// A technician avatar image (raw bytes before base64).
pub const AVATAR_BYTES: usize = 40 * 1024;
/// A file chunk's payload.
pub const FILE_CHUNK_BYTES: usize = 256 * 1024;
/// Largest width or height of any image a party decodes (avatars, browser
/// frames): bigger images are refused before their pixels are allocated.
pub const IMAGE_MAX_SIDE: u32 = 8192;
/// Largest number of pixels of any decoded image (a 4K screen has 8.3 M).
pub const IMAGE_MAX_PIXELS: u64 = 4096 * 4096;

/// `Err(limit)` when `text` has more than `limit` characters.
pub fn check_chars(text: &str, limit: usize) -> Result<(), usize> {
    // `chars().count()` walks the whole string; a string with more bytes
    // than 4 × limit cannot be within it.
    if text.len() > limit * 4 || text.chars().count() > limit {
        Err(limit)
    } else {
        Ok(())
    }
}

/// `text` cut to at most `limit` characters (for fields that stop at the limit).
pub fn truncate_chars(text: &str, limit: usize) -> &str {
    match text.char_indices().nth(limit) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_not_bytes() {
        assert_eq!(check_chars(&"ü".repeat(80), NAME_CHARS), Ok(()));
        assert_eq!(check_chars(&"ü".repeat(81), NAME_CHARS), Err(80));
        assert_eq!(truncate_chars("Grüße", 3), "Grü");
        assert_eq!(truncate_chars("ab", 3), "ab");
    }
}
