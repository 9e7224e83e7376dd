//! Gives every GraphQL error a stable `extensions.code`: errors raised by our
//! resolvers already carry one; parse and validation failures (including the
//! depth and complexity limits) are coded here; anything else is INTERNAL.
//! Parse errors are also reworded: the parser's report (a drawing of the
//! line with a caret, and grammar rule names) becomes one sentence.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

/// An error with a code of its own (refusals raised outside resolvers).
pub(crate) fn coded(message: impl Into<String>, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    set_code(&mut error, code);
    error
}

fn set_code(error: &mut ServerError, code: &str) {
    let ext = error.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
}

/// What a grammar rule of async-graphql's parser stands for, for people
/// (alternatives separated by `|`).
fn rule_phrase(rule: &str) -> String {
    let phrase = match rule {
        "EOI" => "the end of the document",
        "executable_definition" => "`query`|`mutation`|`subscription`|`fragment`|`{`",
        "operation_definition" => "`query`|`mutation`|`subscription`|`{`",
        "named_operation_definition" | "operation_type" => "`query`|`mutation`|`subscription`",
        "fragment_definition" => "`fragment`",
        "selection_set" => "a selection set (`{ … }`)",
        "selection" | "field" => "a field",
        "fragment_spread" | "inline_fragment" => "a fragment (`...`)",
        "alias" => "an alias",
        "arguments" => "arguments (`( … )`)",
        "argument" => "an argument",
        "directive" | "directives" | "const_directives" => "a directive",
        "name" => "a name",
        "variable" => "a variable (`$name`)",
        "variable_definitions" | "variable_definition" => "a variable definition (`$name: Type`)",
        "type_" => "a type",
        "type_condition" => "a type condition (`on Type`)",
        "default_value" => "a default value",
        "value" | "const_value" => "a value",
        "string" => "a string",
        "number" | "int" | "float" => "a number",
        "boolean" => "`true`|`false`",
        "null" => "`null`",
        "enum_value" => "an enum value",
        "list" | "const_list" => "a list",
        "object" | "const_object" => "an input object",
        "object_field" | "const_object_field" => "an input object field",
        other => return format!("a {}", other.replace('_', " ")),
    };
    phrase.to_owned()
}

/// "a", "a or b", "a, b or c", without repeats.
fn either(phrases: &[String]) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for p in phrases {
        if !unique.contains(&p.as_str()) {
            unique.push(p);
        }
    }
    match unique.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The rule names of pest's "a, b, or c" list.
fn rules(list: &str) -> Vec<String> {
    list.replace(", or ", ", ")
        .replace(" or ", ", ")
        .split(", ")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .flat_map(|rule| {
            rule_phrase(rule)
                .split('|')
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The byte offset of a 1-based line and column (in characters).
fn offset_of(query: &str, line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += query.get(start..)?.find('\n')? + 1;
    }
    let rest = query.get(start..)?;
    match rest.char_indices().nth(column.checked_sub(1)?) {
        Some((i, _)) => Some(start + i),
        None if rest.chars().count() == column - 1 => Some(query.len()),
        None => None,
    }
}

/// How the text at `offset` reads in a message: `word`, `}`, or U+0007.
fn token_at(query: &str, offset: usize) -> Option<String> {
    let rest = query.get(offset..)?;
    let first = rest.chars().next()?;
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let text = if is_name(first) {
        let word: String = rest.chars().take_while(|c| is_name(*c)).take(40).collect();
        if rest.chars().take_while(|c| is_name(*c)).count() > 40 {
            format!("{word}…")
        } else {
            word
        }
    } else if rest.starts_with("...") {
        "...".to_owned()
    } else if first.is_control() || first.is_whitespace() {
        return Some(format!("U+{:04X}", u32::from(first)));
    } else {
        first.to_string()
    };
    Some(if text.contains('`') {
        format!("\"{text}\"")
    } else {
        format!("`{text}`")
    })
}

/// The innermost bracket still open at the end of the document, with its
/// line and column (strings and comments skipped).
fn unclosed_bracket(query: &str) -> Option<(char, usize, usize)> {
    let mut open: Vec<(char, usize, usize)> = Vec::new();
    let (mut line, mut column) = (1, 0);
    let mut chars = query.chars().peekable();
    let mut in_comment = false;
    let mut in_string = false;
    let mut in_block = false;
    let mut quotes = 0; // consecutive `"` seen inside a block string
    while let Some(c) = chars.next() {
        column += 1;
        if c == '\n' {
            line += 1;
            column = 0;
            in_comment = false;
            in_string = false;
            continue;
        }
        if in_comment {
            continue;
        }
        if in_block {
            if c == '"' {
                quotes += 1;
                if quotes == 3 {
                    in_block = false;
                }
            } else {
                quotes = 0;
            }
            continue;
        }
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                    column += 1;
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '#' => in_comment = true,
            '"' => {
                let mut ahead = chars.clone();
                if ahead.next() == Some('"') && ahead.next() == Some('"') {
                    chars.next();
                    chars.next();
                    column += 2;
                    in_block = true;
                    quotes = 0;
                } else {
                    in_string = true;
                }
            }
            '{' | '(' | '[' => open.push((c, line, column)),
            '}' | ')' | ']' => {
                let opener = match c {
                    '}' => '{',
                    ')' => '(',
                    _ => '[',
                };
                if open.last().is_some_and(|(o, _, _)| *o == opener) {
                    open.pop();
                }
            }
            _ => {}
        }
    }
    open.pop()
}

/// A parse error as one sentence, e.g. "Syntax error at line 1, column 2:
/// the document ends before the `{` at line 1, column 1 is closed."
/// (async-graphql passes on pest's report: ` --> 1:2`, the line drawn with
/// a caret under it, then `= expected selection`.)
fn parse_error_sentence(query: &str, error: &ServerError) -> String {
    let message = error.message.trim();
    let at = error.locations.first();
    let prefix = match at {
        Some(pos) => format!("Syntax error at line {}, column {}: ", pos.line, pos.column),
        None => "Syntax error: ".to_owned(),
    };
    let Some(report) = message
        .rsplit('\n')
        .next()
        .map(str::trim_start)
        .and_then(|last| last.strip_prefix("= "))
        .filter(|_| message.starts_with("-->"))
    else {
        // Not pest's report: a bad number ("invalid number: …"), two
        // anonymous operations, a name defined twice…
        let mut sentence = message.to_owned();
        if let Some(first) = sentence.get(..1) {
            let upper = first.to_ascii_uppercase();
            sentence.replace_range(..1, &upper);
        }
        if !sentence.ends_with('.') {
            sentence.push('.');
        }
        return match message.strip_prefix("invalid number: ") {
            Some(why) => format!("{prefix}this number cannot be read ({why})."),
            None => sentence,
        };
    };
    let (unexpected, expected) = match report.split_once("; expected ") {
        Some((neg, pos)) => (neg.strip_prefix("unexpected "), Some(pos)),
        None => match report.strip_prefix("expected ") {
            Some(pos) => (None, Some(pos)),
            None => (report.strip_prefix("unexpected "), None),
        },
    };
    let expected = expected.map(rules).unwrap_or_default();
    let offset = at.and_then(|pos| offset_of(query, pos.line, pos.column));
    let at_end = offset.and_then(|o| query.get(o..)).is_some_and(|rest| {
        rest.trim_matches(|c: char| c.is_whitespace() || c == ',')
            .is_empty()
    });
    let expecting = if expected.is_empty() {
        String::new()
    } else {
        format!("; expected {}", either(&expected))
    };
    let body = if let Some(neg) = unexpected {
        format!("unexpected {}{expecting}", either(&rules(neg)))
    } else if at_end && let Some((bracket, line, column)) = unclosed_bracket(query) {
        format!(
            "the document ends before the `{bracket}` at line {line}, column {column} is closed"
        )
    } else if at_end && report == "expected executable_definition" {
        let blank = query.lines().all(|l| {
            l.trim_matches(|c: char| c.is_whitespace() || c == ',')
                .is_empty()
                || l.trim_start().starts_with('#')
        });
        if blank {
            "the document is empty; expected an operation such as `{ __typename }`".to_owned()
        } else {
            format!("unexpected end of the document{expecting}")
        }
    } else if at_end {
        format!("unexpected end of the document{expecting}")
    } else {
        let found = offset
            .and_then(|o| token_at(query, o))
            .unwrap_or_else(|| "input".to_owned());
        let unclosed_string = found == "`\"`"
            && offset
                .and_then(|o| query.get(o + 1..))
                .is_some_and(|rest| !rest.split('\n').next().unwrap_or_default().contains('"'));
        if unclosed_string {
            format!("a string is not closed{expecting}")
        } else {
            format!("unexpected {found}{expecting}")
        }
    };
    format!("{prefix}{body}.")
}

fn validation_code(error: &ServerError) -> &'static str {
    if error.message.contains("nested too deep") {
        "QUERY_TOO_DEEP"
    } else if error.message.contains("too complex") {
        "QUERY_TOO_COMPLEX"
    } else {
        "GRAPHQL_VALIDATION_FAILED"
    }
}

fn finish(mut response: Response) -> Response {
    for error in &mut response.errors {
        // A literal argument that is not a valid value of its scalar (a bad
        // DateTime, say) is found when the field is resolved: the caller's
        // mistake, not ours.
        let code = if error.message.starts_with("Failed to parse \"") {
            "BAD_USER_INPUT"
        } else {
            "INTERNAL"
        };
        set_code(error, code);
    }
    response
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|mut e| {
            let code = if e.message.contains("recursion depth") {
                "QUERY_TOO_DEEP"
            } else {
                e.message = parse_error_sentence(query, &e);
                "GRAPHQL_PARSE_FAILED"
            };
            set_code(&mut e, code);
            e
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for e in &mut errors {
                let code = validation_code(e);
                set_code(e, code);
            }
            errors
        })
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            // Unknown operation names and the like are the client's mistake.
            if error.path.is_empty()
                && error.extensions.is_none()
                && response.data == async_graphql::Value::Null
            {
                set_code(error, "BAD_USER_INPUT");
            }
        }
        finish(response)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(finish).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::parse_error_sentence;

    /// The message a client gets for `query`.
    fn sentence(query: &str) -> String {
        let error: async_graphql::ServerError = async_graphql::parser::parse_query(query)
            .expect_err("a syntax error")
            .into();
        parse_error_sentence(query, &error)
    }

    #[test]
    fn parse_errors_read_as_sentences() {
        for (query, expected) in [
            (
                "",
                "Syntax error at line 1, column 1: the document is empty; expected an operation such as `{ __typename }`.",
            ),
            (
                "  # nothing but a comment\n",
                "Syntax error at line 2, column 1: the document is empty; expected an operation such as `{ __typename }`.",
            ),
            (
                "{",
                "Syntax error at line 1, column 2: the document ends before the `{` at line 1, column 1 is closed.",
            ),
            (
                "query {\n  me { email }\n",
                "Syntax error at line 3, column 1: the document ends before the `{` at line 1, column 7 is closed.",
            ),
            (
                "{ }",
                "Syntax error at line 1, column 3: unexpected `}`; expected a field.",
            ),
            (
                "{ me { email }} }",
                "Syntax error at line 1, column 17: unexpected `}`; expected the end of the document, `query`, `mutation`, `subscription`, `fragment` or `{`.",
            ),
            (
                "qurey { __typename }",
                "Syntax error at line 1, column 1: unexpected `qurey`; expected `query`, `mutation`, `subscription`, `fragment` or `{`.",
            ),
            (
                "{ __typename ? }",
                "Syntax error at line 1, column 14: unexpected `?`; expected a selection set (`{ … }`), a field, a directive or arguments (`( … )`).",
            ),
            (
                "{ user(id: ) { id } }",
                "Syntax error at line 1, column 12: unexpected `)`; expected a value.",
            ),
            (
                "{ user(id: \"x) { id } }",
                "Syntax error at line 1, column 12: a string is not closed; expected a value.",
            ),
            (
                "{ a: }",
                "Syntax error at line 1, column 6: unexpected `}`; expected a name.",
            ),
            (
                "fragment F { id }",
                "Syntax error at line 1, column 12: unexpected `{`; expected a type condition (`on Type`).",
            ),
            (
                "{ f(a: \"}\" # (\n",
                "Syntax error at line 2, column 1: the document ends before the `(` at line 1, column 4 is closed.",
            ),
        ] {
            assert_eq!(sentence(query), expected, "{query:?}");
        }
    }

    #[test]
    fn other_parse_errors_are_sentences_too() {
        let s = sentence("query A { a } { b }");
        assert!(s.starts_with(char::is_uppercase) && s.ends_with('.'), "{s}");
        assert!(!s.contains("-->") && !s.contains('\n'), "{s}");
    }
}
