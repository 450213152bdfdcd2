//! Message text as the search index sees it (PostgreSQL), worked out here rather than by
//! PostgreSQL's text parser, so that search finds what the SQLite store's FTS5 `unicode61`
//! tokenizer finds: words are the alphanumeric runs `parley_protocol::search_terms` splits a
//! query into, folded to lower case without Latin diacritics. PostgreSQL's own parser keeps
//! `example.com`, `e-mail` or a URL as tokens of their own (a search for `example` would miss
//! them), and its case folding depends on the database's locale.
//!
//! The index stores a `tsvector` written as a literal (lexemes with their positions), and a
//! search is a `tsquery` literal of the folded words, every one quoted: nothing a person types
//! reaches tsquery's syntax, and neither side goes through a dictionary, so a lexeme matches
//! exactly the folded word (the last one as a prefix).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use unicode_normalization::UnicodeNormalization;

/// Longest lexeme PostgreSQL keeps (bytes). A longer word is not indexed (`to_tsvector` skips
/// such words too); a search for one finds nothing.
pub const MAX_LEXEME: usize = 2046;
/// Highest word position a `tsvector` records; later words share it.
const MAX_POSITION: usize = 16383;
/// Most positions a `tsvector` keeps for one lexeme.
const MAX_POSITIONS: usize = 256;
/// Most words a snippet shows, as SQLite's `snippet(…, 12)`.
const SNIPPET_WORDS: usize = 12;

/// The words of a text: (start, end) byte ranges of its alphanumeric runs.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// A word as the index keeps it: lower case, and without the combining diacritics of Latin,
/// Greek and Cyrillic letters (`unicode61` removes them by default: `café` matches `cafe`).
fn fold(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .nfc()
        .collect()
}

/// A lexeme quoted for a `tsvector` or `tsquery` literal.
fn quoted(lexeme: &str) -> String {
    format!("'{}'", lexeme.replace('\\', "\\\\").replace('\'', "''"))
}

/// The `tsvector` literal of a message's text: each folded word with its positions.
pub fn vector_literal(text: &str) -> String {
    let mut lexemes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, (s, e)) in word_spans(text).into_iter().enumerate() {
        let word = fold(&text[s..e]);
        if word.is_empty() || word.len() > MAX_LEXEME {
            continue;
        }
        let position = (index + 1).min(MAX_POSITION);
        let positions = lexemes.entry(word).or_default();
        if positions.len() < MAX_POSITIONS && positions.last() != Some(&position) {
            positions.push(position);
        }
    }
    let mut out = String::new();
    for (lexeme, positions) in lexemes {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&quoted(&lexeme));
        for (i, position) in positions.iter().enumerate() {
            let _ = write!(out, "{}{position}", if i == 0 { ':' } else { ',' });
        }
    }
    out
}

/// The folded words of what a person typed (None when there is none); the last one is
/// searched as a prefix.
pub fn query_words(query: &str) -> Option<Vec<String>> {
    let words: Vec<String> = word_spans(query)
        .into_iter()
        .map(|(s, e)| fold(&query[s..e]))
        .filter(|w| !w.is_empty())
        .collect();
    (!words.is_empty()).then_some(words)
}

/// The `tsquery` literal for `words`: every one must appear, the last may be the start of a
/// word.
pub fn query_literal(words: &[String]) -> String {
    let mut terms: Vec<String> = words.iter().map(|w| quoted(w)).collect();
    if let Some(last) = terms.last_mut() {
        last.push_str(":*");
    }
    terms.join(" & ")
}

/// Whether the word at hand is term `term` of `words` (the last term as a prefix).
fn is_term(word: &str, words: &[String], term: usize) -> bool {
    if term + 1 == words.len() {
        word.starts_with(words[term].as_str())
    } else {
        word == words[term]
    }
}

/// The window of `SNIPPET_WORDS` words starting at `start`, scored as FTS5's snippet does: a
/// thousand for each term seen, one for each repeat; and where the window should start to
/// centre the matches it holds.
fn window_score(matches: &[Vec<usize>], start: usize, total: usize, terms: usize) -> (u64, usize) {
    let mut seen = vec![false; terms];
    let mut score = 0;
    let (mut first, mut last) = (None, start);
    for (index, found) in matches.iter().enumerate().skip(start).take(SNIPPET_WORDS) {
        for &term in found {
            score += if seen[term] { 1 } else { 1000 };
            seen[term] = true;
            first.get_or_insert(index);
            last = index + 1;
        }
    }
    let first = first.unwrap_or(start);
    let centred = first.saturating_sub((SNIPPET_WORDS.saturating_sub(last - first)) / 2);
    (score, centred.min(total.saturating_sub(SNIPPET_WORDS)))
}

/// The text around its best matches, matching words between `[` and `]`, at most
/// `SNIPPET_WORDS` words, with `…` where it was cut: what SQLite's
/// `snippet(messages_fts, 0, '[', ']', '…', 12)` gives.
pub fn snippet(text: &str, words: &[String]) -> String {
    let spans = word_spans(text);
    let matches: Vec<Vec<usize>> = spans
        .iter()
        .map(|(s, e)| {
            let word = fold(&text[*s..*e]);
            (0..words.len())
                .filter(|t| is_term(&word, words, *t))
                .collect()
        })
        .collect();
    let mut start = 0;
    if spans.len() > SNIPPET_WORDS {
        let mut best = 0;
        for (index, found) in matches.iter().enumerate() {
            if found.is_empty() {
                continue;
            }
            let (score, centred) = window_score(&matches, index, spans.len(), words.len());
            if score > best {
                best = score;
                start = centred;
            }
        }
    }
    let end = spans.len().min(start + SNIPPET_WORDS);
    let (Some(first), Some(last)) = (spans.get(start), end.checked_sub(1).map(|i| spans[i])) else {
        return text.to_owned();
    };
    let from = if start == 0 { 0 } else { first.0 };
    let to = if end == spans.len() {
        text.len()
    } else {
        last.1
    };
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut at = from;
    for index in start..end {
        let (s, e) = spans[index];
        out.push_str(&text[at..s]);
        if matches[index].is_empty() {
            out.push_str(&text[s..e]);
        } else {
            out.push('[');
            out.push_str(&text[s..e]);
            out.push(']');
        }
        at = e;
    }
    out.push_str(&text[at..to]);
    if to < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(query: &str) -> Vec<String> {
        query_words(query).unwrap_or_default()
    }

    #[test]
    fn words_are_alphanumeric_runs_folded() {
        assert_eq!(
            words("Hello, e-mail CAFÉ example.com"),
            ["hello", "e", "mail", "cafe", "example", "com"]
        );
        assert_eq!(query_words("  ** "), None);
    }

    #[test]
    fn literals_quote_every_lexeme() {
        assert_eq!(vector_literal("b a b"), "'a':2 'b':1,3");
        assert_eq!(vector_literal("?!"), "");
        assert_eq!(query_literal(&words("brave wor")), "'brave' & 'wor':*");
        assert_eq!(quoted("it's \\"), "'it''s \\\\'");
    }

    #[test]
    fn snippets_mark_matches_and_cut_long_texts() {
        assert_eq!(
            snippet("Hello brave world", &words("brave")),
            "Hello [brave] world"
        );
        assert_eq!(snippet("Hello, World!", &words("wor")), "Hello, [World]!");
        let long: Vec<String> = (1..=30).map(|i| format!("w{i}")).collect();
        let cut = snippet(&long.join(" "), &words("w15"));
        assert!(cut.starts_with("…w10 ") && cut.ends_with(" w21…"), "{cut}");
        assert!(cut.contains(" [w15] "), "{cut}");
        assert_eq!(cut.split_whitespace().count(), SNIPPET_WORDS);
    }
}
