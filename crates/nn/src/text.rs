//! Text that came from a file and may reach a terminal.

/// Characters that change what a terminal shows instead of showing themselves: controls (escape
/// sequences start with ESC) and Unicode's invisible formatting characters (bidirectional
/// overrides and isolates, zero-width characters, line and paragraph separators, the BOM).
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// `text` made safe to quote in a message: unprintable characters as `\u{..}` escapes, and at
/// most 80 characters (a file can hold a name of any length).
pub fn escape(text: &str) -> String {
    const LIMIT: usize = 80;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == LIMIT {
            out.push('…');
            break;
        }
        if is_unprintable(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::is_unprintable;

    #[test]
    fn escape_shows_controls_and_cuts_long_text() {
        assert_eq!(super::escape("a\u{1b}[31m"), "a\\u{1b}[31m");
        assert_eq!(super::escape(&"x".repeat(100)).chars().count(), 81);
    }

    #[test]
    fn escapes_and_invisible_formatting_are_unprintable() {
        for c in [
            '\u{1b}', '\n', '\u{9b}', '\u{202e}', '\u{2028}', '\u{200b}', '\u{feff}',
        ] {
            assert!(is_unprintable(c), "{c:?}");
        }
        for c in ['a', '_', ' ', 'é', '한', '→'] {
            assert!(!is_unprintable(c), "{c:?}");
        }
    }
}
