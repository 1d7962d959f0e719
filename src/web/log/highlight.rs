//! Highlighting on `/log`: a comment's text split around every match of the
//! search, for the template to mark. Presentation only: plain text in,
//! plain pieces out (askama escapes them); it reads nothing.

use crate::store::fold;

/// Splits `text` into pieces around every case-insensitive occurrence of
/// `needle`, `(piece, is_match)`, for highlighting. The pieces are plain
/// text for the template to escape; joined they give back `text` exactly.
pub fn split_matches<'a>(text: &'a str, needle: &str) -> Vec<(&'a str, bool)> {
    let needle: Vec<char> = fold(needle).chars().collect();
    if needle.is_empty() {
        return vec![(text, false)];
    }
    // Each folded char with the byte span of the original char it came
    // from: lowercasing may change lengths (İ becomes two chars).
    let mut folded: Vec<(char, usize, usize)> = Vec::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        for l in c.to_lowercase() {
            folded.push((l, i, end));
        }
    }
    let mut out = Vec::new();
    let mut done = 0; // bytes of `text` already emitted
    let mut k = 0;
    while k + needle.len() <= folded.len() {
        let hit = folded[k..k + needle.len()]
            .iter()
            .zip(&needle)
            .all(|((c, _, _), n)| c == n);
        if !hit {
            k += 1;
            continue;
        }
        let start = folded[k].1;
        let end = folded[k + needle.len() - 1].2;
        if start < done {
            k += 1;
            continue;
        }
        if start > done {
            out.push((&text[done..start], false));
        }
        out.push((&text[start..end], true));
        done = end;
        k += needle.len();
    }
    if done < text.len() {
        out.push((&text[done..], false));
    }
    if out.is_empty() {
        out.push((text, false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlighting_splits_around_every_match_whatever_the_case() {
        assert_eq!(
            split_matches("Hello hello HELLO", "hello"),
            vec![
                ("Hello", true),
                (" ", false),
                ("hello", true),
                (" ", false),
                ("HELLO", true)
            ]
        );
        assert_eq!(
            split_matches("今天主播好帅", "主播"),
            vec![("今天", false), ("主播", true), ("好帅", false)]
        );
        assert_eq!(split_matches("nothing", "x"), vec![("nothing", false)]);
        assert_eq!(split_matches("İstanbul", "i̇s").concat_text(), "İstanbul");
    }

    trait Concat {
        fn concat_text(&self) -> String;
    }
    impl Concat for Vec<(&str, bool)> {
        fn concat_text(&self) -> String {
            self.iter().map(|(s, _)| *s).collect()
        }
    }
}
