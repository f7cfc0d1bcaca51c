//! Parsing of column type spellings such as `varchar(255)` or `numeric(18, 6)`.

use crate::model::ColumnType;

/// Largest `varchar` length PostgreSQL accepts.
pub(crate) const MAX_VARCHAR_LENGTH: u32 = 10_485_760;
/// Largest `numeric` precision PostgreSQL accepts.
pub(crate) const MAX_NUMERIC_PRECISION: u32 = 1000;

/// The help text listing every supported type.
pub(crate) const SUPPORTED_TYPES_HELP: &str = "supported types are smallint, integer, bigint, \
     serial, bigserial, boolean, real, double, numeric(P, S) with 1 <= P <= 1000 and \
     0 <= S <= P, text, varchar(N) and char(N) with 1 <= N <= 10485760, citext, date, time, \
     timestamp, timestamptz, uuid, json and bytes, or the name of an `[[enum]]`; `[]` after \
     any of them but serial, bigserial, json and bytes makes a list (`text[]`)";

/// Parses a type spelling, case-insensitively, tolerating whitespace around
/// parameters. The error is a complete diagnostic message.
pub(crate) fn parse_column_type(spelling: &str) -> Result<ColumnType, String> {
    let lowered = spelling.trim().to_ascii_lowercase();
    let (base, parameters) = match lowered.split_once('(') {
        None => (lowered.as_str(), None),
        Some((base, rest)) => {
            let Some(inside) = rest.trim_end().strip_suffix(')') else {
                return Err(format!(
                    "invalid column type `{spelling}`: missing closing parenthesis"
                ));
            };
            if inside.contains(['(', ')']) {
                return Err(format!(
                    "invalid column type `{spelling}`: unbalanced parentheses"
                ));
            }
            (base.trim_end(), Some(inside))
        }
    };

    let simple = match base {
        "smallint" => Some(ColumnType::SmallInt),
        "integer" => Some(ColumnType::Integer),
        "bigint" => Some(ColumnType::BigInt),
        "serial" => Some(ColumnType::Serial),
        "bigserial" => Some(ColumnType::BigSerial),
        "boolean" => Some(ColumnType::Boolean),
        "real" => Some(ColumnType::Real),
        "double" => Some(ColumnType::Double),
        "text" => Some(ColumnType::Text),
        "citext" => Some(ColumnType::Citext),
        "date" => Some(ColumnType::Date),
        "time" => Some(ColumnType::Time),
        "timestamp" => Some(ColumnType::Timestamp),
        "timestamptz" => Some(ColumnType::Timestamptz),
        "uuid" => Some(ColumnType::Uuid),
        "json" => Some(ColumnType::Json),
        "bytes" => Some(ColumnType::Bytes),
        _ => None,
    };
    if let Some(simple) = simple {
        return match parameters {
            None => Ok(simple),
            Some(_) => Err(format!(
                "invalid column type `{spelling}`: `{base}` takes no parameters"
            )),
        };
    }

    match base {
        "varchar" | "char" => {
            let Some(parameters) = parameters else {
                return Err(format!(
                    "invalid column type `{spelling}`: `{base}` needs a length, as in \
                     `{base}(20)`"
                ));
            };
            let [length] = numbers(spelling, parameters)?[..] else {
                return Err(format!(
                    "invalid column type `{spelling}`: `{base}` takes exactly one parameter, \
                     the length"
                ));
            };
            if !(1..=MAX_VARCHAR_LENGTH).contains(&length) {
                return Err(format!(
                    "invalid column type `{spelling}`: the length of `{base}` must be between \
                     1 and {MAX_VARCHAR_LENGTH}"
                ));
            }
            Ok(if base == "char" {
                ColumnType::Char { length }
            } else {
                ColumnType::Varchar { max_length: length }
            })
        }
        "numeric" => {
            let Some(parameters) = parameters else {
                return Err(format!(
                    "invalid column type `{spelling}`: `numeric` needs a precision and a scale, \
                     as in `numeric(18, 6)`"
                ));
            };
            let [precision, scale] = numbers(spelling, parameters)?[..] else {
                return Err(format!(
                    "invalid column type `{spelling}`: `numeric` takes exactly two parameters, \
                     the precision and the scale"
                ));
            };
            if !(1..=MAX_NUMERIC_PRECISION).contains(&precision) {
                return Err(format!(
                    "invalid column type `{spelling}`: the precision of `numeric` must be between \
                     1 and {MAX_NUMERIC_PRECISION}"
                ));
            }
            if scale > precision {
                return Err(format!(
                    "invalid column type `{spelling}`: the scale of `numeric` must be between \
                     0 and the precision ({precision})"
                ));
            }
            Ok(ColumnType::Numeric { precision, scale })
        }
        _ => Err(format!("unknown column type `{spelling}`")),
    }
}

/// The comma-separated unsigned integers of a parameter list.
fn numbers(spelling: &str, parameters: &str) -> Result<Vec<u32>, String> {
    parameters
        .split(',')
        .map(|part| {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "invalid column type `{spelling}`: parameters must be non-negative integers"
                ));
            }
            // Digits only, so the only possible failure is overflow: map it out of range.
            Ok(part.parse::<u32>().unwrap_or(u32::MAX))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_type() {
        let cases = [
            ("smallint", ColumnType::SmallInt),
            ("INTEGER", ColumnType::Integer),
            ("BigInt", ColumnType::BigInt),
            ("serial", ColumnType::Serial),
            ("bigserial", ColumnType::BigSerial),
            ("boolean", ColumnType::Boolean),
            ("real", ColumnType::Real),
            ("double", ColumnType::Double),
            (
                "numeric( 18 , 6 )",
                ColumnType::Numeric {
                    precision: 18,
                    scale: 6,
                },
            ),
            (
                "numeric(1,0)",
                ColumnType::Numeric {
                    precision: 1,
                    scale: 0,
                },
            ),
            ("text", ColumnType::Text),
            ("citext", ColumnType::Citext),
            ("char(2)", ColumnType::Char { length: 2 }),
            ("VARCHAR(255)", ColumnType::Varchar { max_length: 255 }),
            (
                "varchar( 10485760 )",
                ColumnType::Varchar {
                    max_length: 10_485_760,
                },
            ),
            ("date", ColumnType::Date),
            ("time", ColumnType::Time),
            ("timestamp", ColumnType::Timestamp),
            ("timestamptz", ColumnType::Timestamptz),
            ("uuid", ColumnType::Uuid),
            ("json", ColumnType::Json),
            ("bytes", ColumnType::Bytes),
        ];
        for (spelling, expected) in cases {
            assert_eq!(parse_column_type(spelling), Ok(expected), "{spelling}");
        }
    }

    #[test]
    fn spelling_round_trips() {
        for spelling in [
            "integer",
            "numeric(18, 6)",
            "varchar(32)",
            "char(3)",
            "citext",
            "timestamptz",
        ] {
            assert_eq!(parse_column_type(spelling).unwrap().spelling(), spelling);
        }
    }

    #[test]
    fn rejects_bad_spellings() {
        for spelling in [
            "",
            "int",
            "varchar",
            "varchar(0)",
            "varchar(10485761)",
            "varchar(99999999999)",
            "varchar(-1)",
            "varchar(a)",
            "varchar(1, 2)",
            "varchar(",
            "varchar(1))",
            "numeric",
            "numeric(5)",
            "numeric(5, 7)",
            "numeric(0, 0)",
            "numeric(1001, 0)",
            "integer(4)",
            "text()",
            "char",
            "char(0)",
            "citext(4)",
            "text[]",
        ] {
            assert!(parse_column_type(spelling).is_err(), "{spelling:?}");
        }
    }
}
