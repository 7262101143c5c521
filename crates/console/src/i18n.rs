//! The console's UI strings, from `assets/i18n/{de,en}/console.ftl`
//! (compiled in). The files use a small subset of Fluent: `key = text`
//! lines, `#` comments, and `{ $name }` placeholders.

use std::collections::HashMap;

const EN: &str = include_str!("../../../assets/i18n/en/console.ftl");
const DE: &str = include_str!("../../../assets/i18n/de/console.ftl");

/// A UI language the console has strings for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    En,
    De,
}

impl Language {
    /// From `--lang`, else `LC_ALL` / `LC_MESSAGES` / `LANG`; English otherwise.
    pub fn detect(explicit: Option<&str>) -> Self {
        let from_env = || {
            ["LC_ALL", "LC_MESSAGES", "LANG"]
                .iter()
                .filter_map(|v| std::env::var(v).ok())
                .find(|v| !v.is_empty())
        };
        let tag = explicit
            .map(str::to_owned)
            .or_else(from_env)
            .unwrap_or_default();
        if tag.to_ascii_lowercase().starts_with("de") {
            Language::De
        } else {
            Language::En
        }
    }
}

/// Looked-up strings; a key missing in the chosen language falls back to
/// English, and a key missing everywhere shows as the key itself.
#[derive(Debug, Clone)]
pub struct Strings {
    chosen: HashMap<String, String>,
    english: HashMap<String, String>,
}

fn parse(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

impl Strings {
    pub fn new(lang: Language) -> Self {
        let english = parse(EN);
        let chosen = match lang {
            Language::En => english.clone(),
            Language::De => parse(DE),
        };
        Self { chosen, english }
    }

    /// The text for `key`.
    pub fn get(&self, key: &str) -> String {
        self.chosen
            .get(key)
            .or_else(|| self.english.get(key))
            .cloned()
            .unwrap_or_else(|| key.to_owned())
    }

    /// The text for `key` with `{ $name }` placeholders filled in.
    pub fn fmt<S: AsRef<str>>(&self, key: &str, args: &[(&str, S)]) -> String {
        let mut text = self.get(key);
        for (name, value) in args {
            let value = value.as_ref();
            for pattern in [format!("{{ ${name} }}"), format!("{{${name}}}")] {
                text = text.replace(&pattern, value);
            }
        }
        text
    }
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
        assert!(missing.is_empty(), "keys in only one language: {missing:?}");
    }

    #[test]
    fn placeholders_are_filled() {
        let s = Strings::new(Language::De);
        assert_eq!(s.get("login-button"), "Anmelden");
        assert!(s.fmt("queue-waiting", &[("secs", "42")]).contains("42"));
        assert_eq!(Language::detect(Some("de_DE.UTF-8")), Language::De);
        assert_eq!(Language::detect(Some("en")), Language::En);
    }
}
