//! What SQLite's pragmas leave out of a table, read from its `CREATE TABLE` text: collations
//! (`COLLATE NOCASE`, case-insensitive text), generated columns' expressions and
//! `CHECK (column IN (...))` lists (how SQLite databases keep enumerations).

use std::collections::HashMap;
use std::ops::Range;

/// What a column's definition (and the table's CHECK constraints) say about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ColumnClauses {
    pub collate_nocase: bool,
    /// `[GENERATED ALWAYS] AS (expression) [STORED | VIRTUAL]`: the expression as written.
    pub generated: Option<String>,
    /// `CHECK (column IN ('a', 'b'))`: the values.
    pub check_in: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A bare word: keyword or identifier, as written.
    Word(String),
    /// A quoted identifier (`"x"`, `` `x` ``, `[x]`), unquoted.
    Quoted(String),
    /// A string literal, unquoted.
    Text(String),
    Punct(char),
    Other,
}

impl Token {
    fn is_word(&self, word: &str) -> bool {
        matches!(self, Token::Word(found) if found.eq_ignore_ascii_case(word))
    }

    /// The identifier this token names, if it can name one.
    fn identifier(&self) -> Option<&str> {
        match self {
            Token::Word(name) | Token::Quoted(name) => Some(name),
            _ => None,
        }
    }
}

/// The tokens of `sql` with their byte ranges; comments are skipped.
fn tokenize(sql: &str) -> Vec<(Token, Range<usize>)> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let start = index;
        let byte = bytes[index];
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' => index += 1,
            b'-' if bytes.get(index + 1) == Some(&b'-') => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                index += 2;
                while index + 1 < bytes.len() && !(bytes[index] == b'*' && bytes[index + 1] == b'/')
                {
                    index += 1;
                }
                index = (index + 2).min(bytes.len());
            }
            b'\'' | b'"' | b'`' | b'[' => {
                let close = if byte == b'[' { b']' } else { byte };
                let mut value = Vec::new();
                index += 1;
                while index < bytes.len() {
                    if bytes[index] == close {
                        // A doubled quote is the quote itself (not inside [brackets]).
                        if close != b']' && bytes.get(index + 1) == Some(&close) {
                            value.push(close);
                            index += 2;
                            continue;
                        }
                        index += 1;
                        break;
                    }
                    value.push(bytes[index]);
                    index += 1;
                }
                let value = String::from_utf8_lossy(&value).into_owned();
                let token = if byte == b'\'' {
                    Token::Text(value)
                } else {
                    Token::Quoted(value)
                };
                tokens.push((token, start..index));
            }
            b'(' | b')' | b',' => {
                index += 1;
                tokens.push((Token::Punct(byte as char), start..index));
            }
            _ if byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80 => {
                while index < bytes.len()
                    && (bytes[index].is_ascii_alphanumeric()
                        || bytes[index] == b'_'
                        || bytes[index] == b'$'
                        || bytes[index] >= 0x80)
                {
                    index += 1;
                }
                tokens.push((Token::Word(sql[start..index].to_string()), start..index));
            }
            _ => {
                index += 1;
                tokens.push((Token::Other, start..index));
            }
        }
    }
    tokens
}

/// The index of the `)` closing the `(` at `open`.
fn closing(tokens: &[(Token, Range<usize>)], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (offset, (token, _)) in tokens[open..].iter().enumerate() {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + offset);
                }
            }
            _ => {}
        }
    }
    None
}

/// `CHECK ( name IN ( 'a', 'b' ) )` starting at `check`: the column and the values.
fn check_in(tokens: &[(Token, Range<usize>)], check: usize) -> Option<(String, Vec<String>)> {
    let open = check + 1;
    if tokens.get(open)?.0 != Token::Punct('(') {
        return None;
    }
    let close = closing(tokens, open)?;
    let inside = &tokens[open + 1..close];
    let column = inside.first()?.0.identifier()?.to_string();
    if !inside.get(1)?.0.is_word("IN") || inside.get(2)?.0 != Token::Punct('(') {
        return None;
    }
    let mut values = Vec::new();
    let mut expect_value = true;
    for (position, (token, _)) in inside.iter().enumerate().skip(3) {
        match (token, expect_value) {
            (Token::Text(value), true) => {
                values.push(value.clone());
                expect_value = false;
            }
            (Token::Punct(','), false) => expect_value = true,
            // The list must be the whole condition: `a IN (...) OR ...` is not an enumeration.
            (Token::Punct(')'), false) if position + 1 == inside.len() => {
                return Some((column, values));
            }
            _ => return None,
        }
    }
    None
}

/// Per column (by lowercased name), what the `CREATE TABLE` text says beyond the pragmas.
pub(super) fn column_clauses(create_sql: &str) -> HashMap<String, ColumnClauses> {
    let tokens = tokenize(create_sql);
    let mut clauses: HashMap<String, ColumnClauses> = HashMap::new();
    let Some(open) = tokens
        .iter()
        .position(|(token, _)| *token == Token::Punct('('))
    else {
        return clauses;
    };
    let Some(close) = closing(&tokens, open) else {
        return clauses;
    };
    // Split the body into column definitions and table constraints at top-level commas.
    let mut items: Vec<Range<usize>> = Vec::new();
    let mut depth = 0usize;
    let mut item_start = open + 1;
    for (index, (token, _)) in tokens.iter().enumerate().take(close).skip(open + 1) {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            Token::Punct(',') if depth == 0 => {
                items.push(item_start..index);
                item_start = index + 1;
            }
            _ => {}
        }
    }
    items.push(item_start..close);

    for item in items {
        let item_tokens = &tokens[item.clone()];
        let Some((first, _)) = item_tokens.first() else {
            continue;
        };
        let is_constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
            .iter()
            .any(|word| first.is_word(word));
        if is_constraint {
            for (offset, (token, _)) in item_tokens.iter().enumerate() {
                if token.is_word("CHECK")
                    && let Some((column, values)) = check_in(&tokens, item.start + offset)
                {
                    clauses
                        .entry(column.to_ascii_lowercase())
                        .or_default()
                        .check_in = Some(values);
                }
            }
            continue;
        }
        let Some(name) = first.identifier() else {
            continue;
        };
        let mut found = ColumnClauses::default();
        let mut index = item.start + 1;
        while index < item.end {
            let token = &tokens[index].0;
            if token.is_word("COLLATE") {
                found.collate_nocase = tokens
                    .get(index + 1)
                    .is_some_and(|(next, _)| next.is_word("NOCASE"));
            } else if token.is_word("AS")
                && tokens.get(index + 1).map(|(next, _)| next) == Some(&Token::Punct('('))
                && let Some(end) = closing(&tokens, index + 1)
            {
                let from = tokens[index + 1].1.end;
                let to = tokens[end].1.start;
                found.generated = Some(create_sql[from..to].trim().to_string());
                index = end;
            } else if token.is_word("CHECK")
                && let Some((column, values)) = check_in(&tokens, index)
                && column.eq_ignore_ascii_case(name)
            {
                found.check_in = Some(values);
            }
            index += 1;
        }
        let entry = clauses.entry(name.to_ascii_lowercase()).or_default();
        entry.collate_nocase = found.collate_nocase;
        entry.generated = found.generated;
        if found.check_in.is_some() {
            entry.check_in = found.check_in;
        }
    }
    clauses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_collations_generated_columns_and_check_lists() {
        let sql = "CREATE TABLE [Invoice Line] ( \
            id INTEGER PRIMARY KEY, -- the key, (with a comment)\n\
            \"Name\" NVARCHAR(40) COLLATE NOCASE NOT NULL, \
            `status` TEXT NOT NULL DEFAULT 'new' CHECK(status IN ('new','it''s', 'done')), \
            price NUMERIC(10,2), quantity INT, \
            total NUMERIC(10,2) GENERATED ALWAYS AS (price * quantity) STORED, \
            kind TEXT, \
            /* a table constraint */ CONSTRAINT kinds CHECK (kind IN ('a', 'b')), \
            UNIQUE (Name))";
        let clauses = column_clauses(sql);
        assert!(clauses["name"].collate_nocase);
        assert!(!clauses["id"].collate_nocase);
        assert_eq!(
            clauses["status"].check_in,
            Some(vec!["new".into(), "it's".into(), "done".into()])
        );
        assert_eq!(
            clauses["total"].generated.as_deref(),
            Some("price * quantity")
        );
        assert_eq!(clauses["kind"].check_in, Some(vec!["a".into(), "b".into()]));
        assert_eq!(clauses["price"], ColumnClauses::default());
    }

    #[test]
    fn checks_that_are_not_plain_lists_are_not_enumerations() {
        let sql = "CREATE TABLE t (a TEXT CHECK (a IN ('x') OR a IS NULL), \
                   b INT CHECK (b > 0), c TEXT CHECK (length(c) IN (1, 2)))";
        let clauses = column_clauses(sql);
        assert_eq!(clauses["a"].check_in, None);
        assert_eq!(clauses["b"].check_in, None);
        assert_eq!(clauses["c"].check_in, None);
    }
}
