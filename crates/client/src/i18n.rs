//! UI strings from the translation files `assets/i18n/{de,en}/client.ftl`,
//! embedded at build time. The files use the simple-message subset of
//! Fluent: `key = text`, indented continuation lines, `# comments`, and
//! `{ $name }` placeholders. The language follows the system locale.

use std::collections::HashMap;

use lotse_protocol::Lang;

const EN: &str = include_str!("../../../assets/i18n/en/client.ftl");
const DE: &str = include_str!("../../../assets/i18n/de/client.ftl");

/// Translations for one language.
#[derive(Debug, Clone)]
pub struct Tr {
    messages: HashMap<String, String>,
    fallback: HashMap<String, String>,
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        let own = match lang {
            Lang::De => DE,
            Lang::En => EN,
        };
        Self {
            messages: parse(own),
            fallback: parse(EN),
        }
    }

    /// The text of `key`; the key itself if no file has it.
    pub fn t(&self, key: &str) -> String {
        self.lookup(key).to_owned()
    }

    /// The text of `key` with `{ $name }` placeholders filled from `args`.
    pub fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.lookup(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{ ${name} }}"), value);
        }
        text
    }

    fn lookup<'a>(&'a self, key: &'a str) -> &'a str {
        self.messages
            .get(key)
            .or_else(|| self.fallback.get(key))
            .map_or_else(
                || {
                    tracing::warn!(key, "missing translation");
                    key
                },
                String::as_str,
            )
    }
}

/// German for a German system locale, English otherwise; `None` when the
/// locale is unknown.
pub fn system_lang() -> Option<Lang> {
    sys_locale::get_locale().map(|l| lang_of_locale(&l))
}

pub fn lang_of_locale(locale: &str) -> Lang {
    if locale.to_ascii_lowercase().starts_with("de") {
        Lang::De
    } else {
        Lang::En
    }
}

/// Parse the simple-message subset of Fluent.
pub fn parse(source: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in source.lines() {
        if line.starts_with(' ') && !line.trim().is_empty() {
            if let Some((_, text)) = &mut current {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = current.take() {
            out.insert(k, v);
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = trimmed.split_once('=') {
            current = Some((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if let Some((k, v)) = current {
        out.insert(k, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        let en = parse(EN);
        let de = parse(DE);
        let mut missing: Vec<_> = en.keys().filter(|k| !de.contains_key(*k)).collect();
        missing.extend(de.keys().filter(|k| !en.contains_key(*k)));
        assert!(missing.is_empty(), "keys in one language only: {missing:?}");
    }

    #[test]
    fn every_key_used_in_the_code_exists() {
        let en = parse(EN);
        let sources = [
            include_str!("app.rs"),
            include_str!("main.rs"),
            include_str!("picker.rs"),
        ];
        let mut unknown = Vec::new();
        for src in sources {
            for pattern in [".t(\"", ".f(\""] {
                for (pos, _) in src.match_indices(pattern) {
                    let rest = &src[pos + pattern.len()..];
                    let key = &rest[..rest.find('"').unwrap_or(0)];
                    if !key.is_empty() && !key.contains(' ') && !en.contains_key(key) {
                        unknown.push(key.to_owned());
                    }
                }
            }
        }
        assert!(
            unknown.is_empty(),
            "keys used but not translated: {unknown:?}"
        );
    }

    #[test]
    fn placeholders_and_continuations() {
        let map = parse("# c\na = one { $x }\n  two\n\nb = three\n");
        assert_eq!(map["a"], "one { $x }\ntwo");
        assert_eq!(map["b"], "three");
        let tr = Tr::new(Lang::En);
        assert_eq!(
            tr.f("queue-position", &[("position", "3")]),
            "You are number 3 in the queue."
        );
        assert_eq!(tr.t("no-such-key"), "no-such-key");
    }

    #[test]
    fn locale_to_language() {
        assert_eq!(lang_of_locale("de-AT"), Lang::De);
        assert_eq!(lang_of_locale("en-US"), Lang::En);
        assert_eq!(lang_of_locale("fr-FR"), Lang::En);
    }
}
