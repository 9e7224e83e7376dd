//! The search language and text analysis, shared by both databases.
//!
//! Text is analysed here, not by the database: split into words (runs of
//! letters and digits), lower-cased and stemmed with the Snowball English
//! stemmer. The database's own engine (PostgreSQL `tsvector` with the
//! `simple` configuration, SQLite FTS5 with the `unicode61` tokenizer)
//! receives these terms separated by spaces, so both index exactly the same
//! words at the same positions and a query matches the same assets on both.
//!
//! The query language is PostgreSQL's `websearch_to_tsquery`: words are
//! ANDed, `"quoted words"` are phrases, `-word` or `-"a phrase"` excludes,
//! `OR` between two words (or phrases) accepts either; a word ending in `*`
//! is a prefix. Parsed once ([`parse`]) and rendered for each engine
//! ([`SearchQuery::tsquery`], [`SearchQuery::fts5`]).

use rust_stemmers::{Algorithm, Stemmer};

/// Longest term kept (longer words are cut).
const MAX_TERM: usize = 64;
/// Most words and phrases a query may hold.
pub const MAX_ATOMS: usize = 16;

/// A text field of the search document; matches in the title weigh most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Tags,
    /// What anyone who sees the asset may read: description, keywords,
    /// camera and lens.
    Body,
    /// What only the organisation's members see (file name, the original's
    /// caption and headline, the folder path): searched for them alone, so
    /// a partner's query cannot probe it.
    Internal,
}

/// Which fields a query reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Every field (members).
    All,
    /// Title, tags and body (partners).
    Public,
}

impl Reach {
    pub fn fields(self) -> &'static [Field] {
        match self {
            Reach::All => &Field::ALL,
            Reach::Public => &Field::ALL[..3],
        }
    }
}

impl Field {
    pub const ALL: [Field; 4] = [Field::Title, Field::Tags, Field::Body, Field::Internal];

    /// What a match in this field adds to an asset's relevance.
    pub fn weight(self) -> i32 {
        match self {
            Field::Title => 4,
            Field::Tags => 2,
            Field::Body | Field::Internal => 1,
        }
    }

    /// PostgreSQL's weight label for the field in the `tsvector`.
    pub fn label(self) -> char {
        match self {
            Field::Title => 'A',
            Field::Tags => 'B',
            Field::Body => 'C',
            Field::Internal => 'D',
        }
    }

    /// The column of the search table (and of the FTS5 table).
    pub fn column(self) -> &'static str {
        match self {
            Field::Title => "title_terms",
            Field::Tags => "tag_terms",
            Field::Body => "body_terms",
            Field::Internal => "internal_terms",
        }
    }
}

fn split_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(MAX_TERM).collect::<String>().to_lowercase())
}

/// The index terms of a text: its words, lower-cased and stemmed.
pub fn terms(text: &str) -> Vec<String> {
    let stemmer = Stemmer::create(Algorithm::English);
    split_words(text)
        .map(|w| stemmer.stem(&w).into_owned())
        .collect()
}

/// A text as the engines index it: its terms separated by spaces.
pub fn index_text<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for part in parts {
        for t in terms(part) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&t);
        }
    }
    out
}

/// One thing to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    /// A term; a prefix matches every term starting with it.
    Term { term: String, prefix: bool },
    /// Terms next to each other in this order (the last may be a prefix).
    Phrase { terms: Vec<String>, prefix: bool },
}

/// Atoms of which at least one must match (`a OR b`; usually just one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub any: Vec<Atom>,
}

/// A parsed query: every clause must match, no excluded atom may.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    pub all: Vec<Clause>,
    pub none: Vec<Atom>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("a query may hold at most {MAX_ATOMS} words and phrases")]
    TooLong,
}

/// The atom of a word or quoted text, or `None` when it holds no term.
fn atom(text: &str, prefix: bool, stemmer: &Stemmer) -> Option<Atom> {
    let words: Vec<String> = split_words(text).collect();
    let last = words.len().checked_sub(1)?;
    let terms: Vec<String> = words
        .into_iter()
        .enumerate()
        // A prefix is matched as typed: "runn*" must not become "run*".
        .map(|(i, w)| {
            if prefix && i == last {
                w
            } else {
                stemmer.stem(&w).into_owned()
            }
        })
        .collect();
    Some(if terms.len() == 1 {
        Atom::Term {
            term: terms.into_iter().next().unwrap_or_default(),
            prefix,
        }
    } else {
        Atom::Phrase { terms, prefix }
    })
}

/// Parses a query (never fails on syntax: stray quotes and operators are
/// read as loosely as `websearch_to_tsquery` does).
pub fn parse(query: &str) -> Result<SearchQuery, QueryError> {
    let stemmer = Stemmer::create(Algorithm::English);
    let chars: Vec<char> = query.chars().collect();
    let mut out = SearchQuery::default();
    let mut atoms = 0;
    let mut i = 0;
    let mut pending_or = false;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let negated = chars[i] == '-' && chars.get(i + 1).is_some_and(|c| !c.is_whitespace());
        if negated {
            i += 1;
        }
        let (text, quoted) = if chars[i] == '"' {
            let start = i + 1;
            let end = chars[start..]
                .iter()
                .position(|c| *c == '"')
                .map_or(chars.len(), |p| start + p);
            i = end + 1;
            (chars[start..end].iter().collect::<String>(), true)
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '"' {
                i += 1;
            }
            (chars[start..i].iter().collect::<String>(), false)
        };
        if !quoted && !negated && text.eq_ignore_ascii_case("or") {
            pending_or = !out.all.is_empty();
            continue;
        }
        let prefix = text.trim_end().ends_with('*');
        let Some(a) = atom(&text, prefix, &stemmer) else {
            continue;
        };
        atoms += 1;
        if atoms > MAX_ATOMS {
            return Err(QueryError::TooLong);
        }
        if negated {
            out.none.push(a);
            pending_or = false;
        } else if pending_or {
            if let Some(last) = out.all.last_mut() {
                last.any.push(a);
            }
            pending_or = false;
        } else {
            out.all.push(Clause { any: vec![a] });
        }
    }
    Ok(out)
}

/// A term restricted to the fields in `labels` (none: any field).
fn ts_term(term: &str, prefix: bool, labels: &str) -> String {
    let mut s = format!("'{term}'");
    if prefix || !labels.is_empty() {
        s.push(':');
        if prefix {
            s.push('*');
        }
        s.push_str(labels);
    }
    s
}

/// The weight labels of `reach` (empty when it is every field).
fn labels(reach: Reach) -> String {
    match reach {
        Reach::All => String::new(),
        Reach::Public => reach.fields().iter().map(|f| f.label()).collect(),
    }
}

fn ts_atom_in(atom: &Atom, labels: &str) -> String {
    match atom {
        Atom::Term { term, prefix } => ts_term(term, *prefix, labels),
        Atom::Phrase { terms, prefix } => {
            let last = terms.len().saturating_sub(1);
            let parts: Vec<String> = terms
                .iter()
                .enumerate()
                .map(|(i, t)| ts_term(t, *prefix && i == last, labels))
                .collect();
            format!("({})", parts.join(" <-> "))
        }
    }
}

/// A phrase matches within one field only (the `tsvector` numbers the
/// fields' positions one after the other, FTS5 keeps them apart).
fn ts_atom(atom: &Atom, reach: Reach) -> String {
    match atom {
        Atom::Term { .. } => ts_atom_in(atom, &labels(reach)),
        Atom::Phrase { .. } => {
            let each: Vec<String> = reach
                .fields()
                .iter()
                .map(|f| ts_atom_in(atom, &f.label().to_string()))
                .collect();
            format!("({})", each.join(" | "))
        }
    }
}

fn fts_atom(atom: &Atom) -> String {
    match atom {
        Atom::Term { term, prefix } => {
            format!("\"{term}\"{}", if *prefix { " *" } else { "" })
        }
        Atom::Phrase { terms, prefix } => {
            format!("\"{}\"{}", terms.join(" "), if *prefix { " *" } else { "" })
        }
    }
}

/// An FTS5 expression restricted to the columns of `reach`.
fn fts_reach(expr: String, reach: Reach) -> String {
    match reach {
        Reach::All => expr,
        Reach::Public => {
            let cols: Vec<&str> = reach.fields().iter().map(|f| f.column()).collect();
            format!("{{{}}} : ({expr})", cols.join(" "))
        }
    }
}

impl SearchQuery {
    /// Whether the query holds no words at all (then only filters apply and
    /// nothing is ranked).
    pub fn is_empty(&self) -> bool {
        self.all.is_empty() && self.none.is_empty()
    }

    /// Every atom that counts towards relevance.
    pub fn positive_atoms(&self) -> impl Iterator<Item = &Atom> {
        self.all.iter().flat_map(|c| c.any.iter())
    }

    /// PostgreSQL `to_tsquery('simple', …)` text of the whole query within
    /// `reach`, or `None` when it has no positive clause (only exclusions).
    pub fn tsquery(&self, reach: Reach) -> Option<String> {
        if self.all.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = self
            .all
            .iter()
            .map(|c| {
                let any: Vec<String> = c.any.iter().map(|a| ts_atom(a, reach)).collect();
                format!("({})", any.join(" | "))
            })
            .collect();
        parts.extend(self.none.iter().map(|a| format!("!{}", ts_atom(a, reach))));
        Some(parts.join(" & "))
    }

    /// PostgreSQL text of the excluded atoms, ORed (for a query made of
    /// exclusions only).
    pub fn tsquery_excluded(&self, reach: Reach) -> Option<String> {
        if self.none.is_empty() {
            return None;
        }
        let any: Vec<String> = self.none.iter().map(|a| ts_atom(a, reach)).collect();
        Some(any.join(" | "))
    }

    /// The FTS5 `MATCH` text of the whole query within `reach`, or `None`
    /// when it has no positive clause.
    pub fn fts5(&self, reach: Reach) -> Option<String> {
        if self.all.is_empty() {
            return None;
        }
        let positive: Vec<String> = self
            .all
            .iter()
            .map(|c| {
                let any: Vec<String> = c.any.iter().map(fts_atom).collect();
                format!("({})", any.join(" OR "))
            })
            .collect();
        let mut text = fts_reach(positive.join(" AND "), reach);
        if let Some(excluded) = self.fts5_excluded(reach) {
            text = format!("({text}) NOT ({excluded})");
        }
        Some(text)
    }

    /// The FTS5 text of the excluded atoms within `reach`, ORed.
    pub fn fts5_excluded(&self, reach: Reach) -> Option<String> {
        if self.none.is_empty() {
            return None;
        }
        let any: Vec<String> = self.none.iter().map(fts_atom).collect();
        Some(fts_reach(any.join(" OR "), reach))
    }
}

/// PostgreSQL text matching `atom` in `field` only (for relevance).
pub fn tsquery_in(atom: &Atom, field: Field) -> String {
    ts_atom_in(atom, &field.label().to_string())
}

/// A `LIKE` pattern matching `atom` in a field's terms padded with one
/// space on each side (`' ' || title_terms || ' '`): the same test as the
/// `tsquery` of [`tsquery_in`] (the terms are stored in order, separated by
/// one space, and hold letters and digits only), far cheaper per row than
/// matching a weighted `tsvector` — PostgreSQL scores with it.
pub fn like_in(atom: &Atom) -> String {
    let (words, prefix) = match atom {
        Atom::Term { term, prefix } => (like_escape(term), *prefix),
        Atom::Phrase { terms, prefix } => (
            terms
                .iter()
                .map(|t| like_escape(t))
                .collect::<Vec<_>>()
                .join(" "),
            *prefix,
        ),
    };
    format!("% {words}{}", if prefix { "%" } else { " %" })
}

/// `LIKE` wildcards and the escape character made literal (terms never hold
/// them; a query's words are analysed the same way, so this is defence).
fn like_escape(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// FTS5 text matching `atom` in `field` only (for relevance).
pub fn fts5_in(atom: &Atom, field: Field) -> String {
    format!("{} : {}", field.column(), fts_atom(atom))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(t: &str) -> Atom {
        Atom::Term {
            term: t.into(),
            prefix: false,
        }
    }

    #[test]
    fn like_patterns_match_whole_terms_prefixes_and_phrases() {
        let phrase = Atom::Phrase {
            terms: vec!["rose".into(), "gol".into()],
            prefix: true,
        };
        assert_eq!(like_in(&term("ring")), "% ring %");
        assert_eq!(
            like_in(&Atom::Term {
                term: "ri".into(),
                prefix: true
            }),
            "% ri%"
        );
        assert_eq!(like_in(&phrase), "% rose gol%");
        assert_eq!(like_in(&term("a%b_c")), "% a\\%b\\_c %");
    }

    #[test]
    fn text_is_split_lowered_and_stemmed() {
        assert_eq!(
            terms("Rose-Gold RINGS, running_shoes 0042"),
            ["rose", "gold", "ring", "run", "shoe", "0042"]
        );
        assert_eq!(index_text(["Rings", "", "Earrings!"]), "ring earring");
        let long = "x".repeat(100);
        assert_eq!(terms(&long)[0].len(), MAX_TERM);
    }

    #[test]
    fn websearch_syntax() {
        let q = parse("rose gold ring -earring").unwrap();
        assert_eq!(
            q.all,
            vec![
                Clause {
                    any: vec![term("rose")]
                },
                Clause {
                    any: vec![term("gold")]
                },
                Clause {
                    any: vec![term("ring")]
                }
            ]
        );
        assert_eq!(q.none, vec![term("earring")]);
        assert_eq!(
            q.tsquery(Reach::All).unwrap(),
            "('rose') & ('gold') & ('ring') & !'earring'"
        );
        assert_eq!(
            q.fts5(Reach::All).unwrap(),
            "((\"rose\") AND (\"gold\") AND (\"ring\")) NOT (\"earring\")"
        );
        // A partner's query never reaches the internal field.
        assert_eq!(
            q.tsquery(Reach::Public).unwrap(),
            "('rose':ABC) & ('gold':ABC) & ('ring':ABC) & !'earring':ABC"
        );
        assert_eq!(
            q.fts5(Reach::Public).unwrap(),
            "({title_terms tag_terms body_terms} : ((\"rose\") AND (\"gold\") AND (\"ring\"))) \
             NOT ({title_terms tag_terms body_terms} : (\"earring\"))"
        );

        let q = parse("\"rose gold\" rings OR necklaces").unwrap();
        assert_eq!(
            q.all[0].any,
            vec![Atom::Phrase {
                terms: vec!["rose".into(), "gold".into()],
                prefix: false
            }]
        );
        assert_eq!(q.all[1].any, vec![term("ring"), term("necklac")]);
        assert_eq!(
            q.tsquery(Reach::Public).unwrap(),
            "((('rose':A <-> 'gold':A) | ('rose':B <-> 'gold':B) | ('rose':C <-> 'gold':C))) & ('ring':ABC | 'necklac':ABC)"
        );
        assert!(
            q.tsquery(Reach::All)
                .unwrap()
                .contains("('rose':D <-> 'gold':D)")
        );
        assert_eq!(
            q.fts5(Reach::All).unwrap(),
            "(\"rose gold\") AND (\"ring\" OR \"necklac\")"
        );
    }

    #[test]
    fn prefixes_are_not_stemmed() {
        let q = parse("runn*").unwrap();
        assert_eq!(
            q.all[0].any,
            vec![Atom::Term {
                term: "runn".into(),
                prefix: true
            }]
        );
        assert_eq!(q.tsquery(Reach::All).unwrap(), "('runn':*)");
        assert_eq!(q.tsquery(Reach::Public).unwrap(), "('runn':*ABC)");
        assert_eq!(q.fts5(Reach::All).unwrap(), "(\"runn\" *)");
        assert_eq!(tsquery_in(&q.all[0].any[0], Field::Title), "'runn':*A");
        assert_eq!(
            fts5_in(&q.all[0].any[0], Field::Tags),
            "tag_terms : \"runn\" *"
        );
    }

    #[test]
    fn loose_input_never_fails() {
        for q in [
            "",
            "   ",
            "\"",
            "-",
            "- -",
            "OR",
            "or or",
            "a OR",
            "OR a",
            "\"\"",
            "*",
            "'; drop",
            "a:b & c | !d <-> e",
            "\"unterminated phrase",
        ] {
            let parsed = parse(q).unwrap();
            // Nothing but letters and digits reaches an engine.
            for a in parsed.positive_atoms().chain(parsed.none.iter()) {
                let words = match a {
                    Atom::Term { term, .. } => vec![term.clone()],
                    Atom::Phrase { terms, .. } => terms.clone(),
                };
                assert!(words.iter().all(|w| w.chars().all(char::is_alphanumeric)));
            }
        }
        assert!(parse("").unwrap().is_empty());
        assert_eq!(parse("a OR").unwrap().all.len(), 1);
        assert_eq!(parse("OR a").unwrap().all.len(), 1);
        // Words of punctuation alone are dropped; a hyphenated word is a phrase.
        assert_eq!(
            parse("RING-0042 &&").unwrap().all[0].any,
            vec![Atom::Phrase {
                terms: vec!["ring".into(), "0042".into()],
                prefix: false
            }]
        );
        let many = "w ".repeat(MAX_ATOMS + 1);
        assert_eq!(parse(&many), Err(QueryError::TooLong));
    }

    #[test]
    fn exclusions_alone() {
        let q = parse("-earring -\"white gold\"").unwrap();
        assert!(q.all.is_empty());
        assert_eq!(q.tsquery(Reach::All), None);
        assert_eq!(q.fts5(Reach::All), None);
        assert_eq!(
            q.fts5_excluded(Reach::All).unwrap(),
            "\"earring\" OR \"white gold\""
        );
        assert!(
            q.tsquery_excluded(Reach::All)
                .unwrap()
                .starts_with("'earring' | (")
        );
    }
}
