//! Text for the terminal: whatever customers typed (names, problems, chat,
//! file names) reaches the CLI's output only through [`printable`], so a
//! terminal escape sequence in it (`ESC ]0;…BEL` retitles the window,
//! `ESC [2J` clears it, worse ones exist) is shown, never executed, and a
//! line break cannot forge a record line.

/// `text` with every control character (C0, DEL, C1, line breaks) and
/// every bidirectional-text control escaped: `\x1b`, `\n`, `\u{202e}`.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push(&mut out, c);
    }
    out
}

/// Like [`printable`] for a whole report: its own layout (line breaks,
/// tabs) stays. Fields with customer text are escaped with [`printable`]
/// before they are laid out.
pub fn printable_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' || c == '\t' {
            out.push(c);
        } else {
            push(&mut out, c);
        }
    }
    out
}

fn push(out: &mut String, c: char) {
    use std::fmt::Write;
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if u32::from(c) < 0x80 && c.is_control() => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if c.is_control() || is_bidi_control(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Characters that reorder the text around them ("Trojan Source").
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_sequences_and_line_breaks() {
        assert_eq!(
            printable("\x1b]0;pwned\x07\x1b[2J"),
            r"\x1b]0;pwned\x07\x1b[2J"
        );
        assert_eq!(printable("a\nb\r\tc\x7f"), r"a\nb\r\tc\x7f");
        assert_eq!(printable("\u{9b}31m \u{202e}txt"), r"\u{9b}31m \u{202e}txt");
        assert_eq!(printable("Grüße, 日本 ✓"), "Grüße, 日本 ✓");
        assert_eq!(printable_lines("a\x1b\tb\n\r"), "a\\x1b\tb\n\\r");
    }
}
