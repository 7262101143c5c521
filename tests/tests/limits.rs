//! The web chat's field limits (`assets/web/common.js`, block `LIMITS`)
//! are the numbers of `lotse_protocol::limits`: they cannot drift apart.

use std::collections::BTreeMap;
use std::path::Path;

use lotse_protocol::limits;

/// `NAME: number` pairs of the `const LIMITS = Object.freeze({ … })` block.
fn web_limits() -> BTreeMap<String, usize> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/web/common.js");
    let js = std::fs::read_to_string(&path).expect("assets/web/common.js");
    let start = js
        .find("const LIMITS = Object.freeze({")
        .expect("a LIMITS block in common.js");
    let block = &js[start..];
    let block = &block[..block.find("});").expect("end of the LIMITS block")];
    block
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (name, value) = line.trim().trim_end_matches(',').split_once(':')?;
            let value = value
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("not a plain number in the LIMITS block: {line:?}"));
            Some((name.trim().to_owned(), value))
        })
        .collect()
}

#[test]
fn the_web_chat_uses_the_protocol_limits() {
    let expected: BTreeMap<String, usize> = [
        ("NAME_CHARS", limits::NAME_CHARS),
        ("PROBLEM_CHARS", limits::PROBLEM_CHARS),
        ("CHAT_CHARS", limits::CHAT_CHARS),
        ("SURVEY_COMMENT_CHARS", limits::SURVEY_COMMENT_CHARS),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(web_limits(), expected);
}

#[test]
fn no_page_hard_codes_a_field_limit() {
    // The numbers live in common.js only; a `maxlength` in the HTML would
    // be a second copy (the session key field has its own format limit).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/web");
    for entry in std::fs::read_dir(&dir).expect("assets/web") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "html") {
            let html = std::fs::read_to_string(&path).expect("read");
            for (at, _) in html.match_indices("maxlength") {
                let tag_start = html[..at].rfind('<').unwrap_or(0);
                assert!(
                    html[tag_start..at].contains("key-input"),
                    "{}: a maxlength outside common.js's LIMITS: {}",
                    path.display(),
                    &html[tag_start..(at + 20).min(html.len())]
                );
            }
        }
    }
}
