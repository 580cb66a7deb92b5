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

#[cfg(test)]
mod tests {
    use super::is_unprintable;

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
