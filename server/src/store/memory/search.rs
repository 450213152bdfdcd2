//! Search, in memory: the same index-behind-the-writes as SQLite (`indexed_through`), and word
//! matching as SQLite's `unicode61` tokenizer does it (alphanumeric runs, case folded). Ranking
//! is simpler than FTS5's bm25: most matching words first, then newest.

use parley_protocol::SearchHit;

use super::{state::State, MemoryStore};
use crate::store::{SearchRequest, SearchStore, StoreFuture};

/// Most words a snippet shows, as SQLite's `snippet(…, 12)`.
const SNIPPET_WORDS: usize = 12;

/// The words of a text: (start, end) byte ranges of alphanumeric runs.
fn words(text: &str) -> Vec<(usize, usize)> {
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

/// Whether `word` matches one of the query's terms (the last one as a prefix).
fn matches(word: &str, terms: &[String]) -> bool {
    let word = word.to_lowercase();
    let Some((last, rest)) = terms.split_last() else {
        return false;
    };
    rest.contains(&word) || word.starts_with(last.as_str())
}

/// How many words of `text` match, if every term is found; None otherwise.
fn score(text: &str, terms: &[String]) -> Option<usize> {
    let lowered: Vec<String> = words(text)
        .into_iter()
        .map(|(s, e)| text[s..e].to_lowercase())
        .collect();
    let (last, rest) = terms.split_last()?;
    let found = rest.iter().all(|t| lowered.contains(t))
        && lowered.iter().any(|w| w.starts_with(last.as_str()));
    found.then(|| lowered.iter().filter(|w| matches(w, terms)).count())
}

/// The text with matching words between `[` and `]`, cut to a window around the first match.
fn snippet(text: &str, terms: &[String]) -> String {
    let spans = words(text);
    let first = spans
        .iter()
        .position(|(s, e)| matches(&text[*s..*e], terms))
        .unwrap_or(0);
    let start = if spans.len() <= SNIPPET_WORDS {
        0
    } else {
        first.min(spans.len() - SNIPPET_WORDS)
    };
    let shown = &spans[start..spans.len().min(start + SNIPPET_WORDS)];
    let (Some(from), Some(to)) = (shown.first(), shown.last()) else {
        return text.to_owned();
    };
    let from = if start == 0 { 0 } else { from.0 };
    let to = if start + shown.len() == spans.len() {
        text.len()
    } else {
        to.1
    };
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut at = from;
    for (s, e) in shown {
        out.push_str(&text[at..*s]);
        if matches(&text[*s..*e], terms) {
            out.push('[');
            out.push_str(&text[*s..*e]);
            out.push(']');
        } else {
            out.push_str(&text[*s..*e]);
        }
        at = *e;
    }
    out.push_str(&text[at..to]);
    if to < text.len() {
        out.push('…');
    }
    out
}

impl State {
    fn index_pending(&mut self, batch: i64) -> bool {
        let newest = self.messages.keys().next_back().copied().unwrap_or(0);
        let through = self.indexed_through;
        if newest <= through {
            return false;
        }
        let upto = newest.min(through + batch);
        let fresh: Vec<(i64, String)> = self
            .messages
            .range(through + 1..=upto)
            .filter(|(_, m)| m.deleted_at.is_none())
            .map(|(id, m)| (*id, m.text.clone()))
            .collect();
        self.indexed.extend(fresh);
        self.indexed_through = upto;
        upto < newest
    }

    fn search(&self, request: &SearchRequest) -> Vec<SearchHit> {
        let Some(words) = parley_protocol::search_terms(&request.query) else {
            return Vec::new();
        };
        // The terms as `search_terms` quotes them: `"a" "b" "c"*`.
        let terms: Vec<String> = words
            .split(' ')
            .map(|t| t.trim_matches(|c| c == '"' || c == '*').to_lowercase())
            .collect();
        let mut found: Vec<(usize, i64)> = self
            .indexed
            .iter()
            .filter_map(|(id, text)| {
                let m = self.messages.get(id)?;
                let ok = request.channels.contains(&m.channel_id)
                    && m.deleted_at.is_none()
                    && request.author_id.is_none_or(|a| a == m.author_id)
                    && request.after.is_none_or(|t| m.created_at >= t)
                    && request.before.is_none_or(|t| m.created_at < t);
                if !ok {
                    return None;
                }
                Some((score(text, &terms)?, *id))
            })
            .collect();
        found.sort_by(|a, b| b.cmp(a));
        found
            .into_iter()
            .take(request.limit as usize)
            .filter_map(|(_, id)| {
                let message = self.bare_message(id)?;
                let snippet = snippet(&message.text, &terms);
                Some(SearchHit { message, snippet })
            })
            .collect()
    }
}

impl SearchStore for MemoryStore {
    fn index_pending(&self, batch: i64) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |state| Ok((state.index_pending(batch), Vec::new()))))
    }

    fn search(&self, request: SearchRequest) -> StoreFuture<'_, Vec<SearchHit>> {
        let found = self.read(|state| Ok(state.search(&request)));
        Box::pin(async move { found })
    }
}
