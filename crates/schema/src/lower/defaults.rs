//! Column defaults: which values each type accepts, and the help text when it does not.

use std::ops::Range;

use toml::Spanned;

use crate::error::Reporter;
use crate::model::{ColumnType, DefaultValue, EnumType};

/// The default as written, shortened for messages.
pub(super) fn excerpt(text: &str) -> String {
    let text = text.trim();
    let first_line = text.lines().next().unwrap_or_default();
    if first_line.chars().count() > 40 || first_line.len() != text.len() {
        let short: String = first_line.chars().take(40).collect();
        format!("{short}...")
    } else {
        first_line.to_owned()
    }
}

pub(super) fn lower_default(
    reporter: &mut Reporter<'_>,
    column: &str,
    ty: ColumnType,
    default: &Spanned<toml::Value>,
) -> Option<DefaultValue> {
    match default_value(ty, default.get_ref()) {
        Ok(value) => Some(value),
        Err(help) => {
            let span: Range<usize> = default.span();
            let written = excerpt(reporter.source().get(span.clone()).unwrap_or_default());
            reporter.error(
                span.start,
                format!(
                    "unsupported default `{written}` for column `{column}` of type `{}`",
                    ty.spelling()
                ),
                Some(help),
            );
            None
        }
    }
}

/// What a default of this type may be, for help messages.
pub(super) fn accepted_defaults(ty: ColumnType) -> String {
    match ty {
        ColumnType::SmallInt => format!("an integer between {} and {}", i16::MIN, i16::MAX),
        ColumnType::Integer => format!("an integer between {} and {}", i32::MIN, i32::MAX),
        ColumnType::BigInt => "an integer".to_owned(),
        ColumnType::Serial | ColumnType::BigSerial | ColumnType::Json | ColumnType::Bytes => {
            "absent".to_owned()
        }
        ColumnType::Boolean => "`true` or `false`".to_owned(),
        ColumnType::Real => "a finite number within the range of `real`".to_owned(),
        ColumnType::Double => "a finite number".to_owned(),
        ColumnType::Numeric { precision, scale } => format!(
            "a finite number with at most {} digits before the decimal point",
            precision - scale
        ),
        ColumnType::Text | ColumnType::Citext => "a string".to_owned(),
        ColumnType::Varchar { max_length: length } | ColumnType::Char { length } => {
            format!("a string of at most {length} characters")
        }
        ColumnType::Date | ColumnType::Time | ColumnType::Timestamp | ColumnType::Timestamptz => {
            "\"now\" (the current date or time when the row is inserted)".to_owned()
        }
        ColumnType::Uuid => {
            "a UUID string in canonical form, e.g. \"67e55044-10b1-426f-9247-bb680e5fe0c8\""
                .to_owned()
        }
        ColumnType::Enum => "one of the enumeration's values".to_owned(),
    }
}

/// The lowered default, or the help text explaining why it is not supported.
pub(super) fn default_value(ty: ColumnType, value: &toml::Value) -> Result<DefaultValue, String> {
    use toml::Value;

    let spelling = ty.spelling();
    let expected = || {
        format!(
            "defaults of `{spelling}` columns must be {}",
            accepted_defaults(ty)
        )
    };
    match ty {
        ColumnType::Serial | ColumnType::BigSerial => {
            return Err(format!(
                "`{spelling}` columns take no default: the database generates their values; \
                 remove `default`"
            ));
        }
        ColumnType::Json | ColumnType::Bytes => {
            return Err(format!(
                "defaults are not supported on `{spelling}` columns; remove `default` (set \
                 `nullable = true` if the column may be left out)"
            ));
        }
        _ => {}
    }

    match value {
        Value::Boolean(flag) if ty == ColumnType::Boolean => Ok(DefaultValue::Boolean(*flag)),
        Value::Integer(integer) => {
            let integer = *integer;
            match ty {
                ColumnType::SmallInt if i16::try_from(integer).is_err() => Err(expected()),
                ColumnType::Integer if i32::try_from(integer).is_err() => Err(expected()),
                ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt => {
                    Ok(DefaultValue::Integer(integer))
                }
                ColumnType::Real | ColumnType::Double => {
                    Ok(DefaultValue::Number(integer.to_string()))
                }
                ColumnType::Numeric { precision, scale } => {
                    let text = integer.to_string();
                    if fits_numeric(&text, precision, scale) {
                        Ok(DefaultValue::Number(text))
                    } else {
                        Err(expected())
                    }
                }
                _ => Err(expected()),
            }
        }
        Value::Float(float) => {
            let float = *float;
            let fits = match ty {
                ColumnType::Real => float.is_finite() && float.abs() <= f64::from(f32::MAX),
                ColumnType::Double => float.is_finite(),
                ColumnType::Numeric { precision, scale } => {
                    float.is_finite() && fits_numeric(&format!("{float}"), precision, scale)
                }
                _ => false,
            };
            if fits {
                Ok(DefaultValue::Number(format!("{float}")))
            } else {
                Err(expected())
            }
        }
        Value::String(text) => match ty {
            ColumnType::Date
            | ColumnType::Time
            | ColumnType::Timestamp
            | ColumnType::Timestamptz
                if text == "now" =>
            {
                Ok(DefaultValue::Now)
            }
            _ if text == "now" => Err(format!(
                "\"now\" is only supported on date, time, timestamp and timestamptz columns; {}",
                expected()
            )),
            ColumnType::Text | ColumnType::Citext => Ok(DefaultValue::Text(text.clone())),
            ColumnType::Varchar { max_length: length } | ColumnType::Char { length }
                if text.chars().count() <= length as usize =>
            {
                Ok(DefaultValue::Text(text.clone()))
            }
            ColumnType::Uuid if is_canonical_uuid(text) => Ok(DefaultValue::Text(text.clone())),
            _ => Err(expected()),
        },
        Value::Datetime(_) => Err(format!(
            "TOML dates and times are not supported as defaults; {}",
            expected()
        )),
        Value::Array(_) | Value::Table(_) => Err(format!(
            "arrays and tables are not supported as defaults; {}",
            expected()
        )),
        Value::Boolean(_) => Err(expected()),
    }
}

/// Whether a decimal number, as text, fits `numeric(precision, scale)` before
/// the decimal point (digits after it are rounded by the database).
pub(super) fn fits_numeric(text: &str, precision: u32, scale: u32) -> bool {
    let unsigned = text.trim_start_matches(['-', '+']);
    let integer_part = unsigned.split('.').next().unwrap_or_default();
    let significant = integer_part.trim_start_matches('0');
    significant.len() <= (precision - scale) as usize
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` with hexadecimal digits.
pub(super) fn is_canonical_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, c)| match index {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The default of an enum column: one of its values.
pub(super) fn lower_enum_default(
    reporter: &mut Reporter<'_>,
    column: &str,
    named: &EnumType,
    default: &Spanned<toml::Value>,
) -> Option<DefaultValue> {
    match default.get_ref() {
        toml::Value::String(value) if named.values.contains(value) => {
            Some(DefaultValue::Text(value.clone()))
        }
        _ => {
            reporter.error(
                default.span().start,
                format!(
                    "the default of column `{column}` is not a value of enum `{}`",
                    named.sql_name
                ),
                Some(format!(
                    "use one of {}",
                    named
                        .values
                        .iter()
                        .map(|value| format!("\"{value}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
            None
        }
    }
}

/// The default of a list column: only the empty list.
pub(super) fn lower_list_default(
    reporter: &mut Reporter<'_>,
    column: &str,
    default: &Spanned<toml::Value>,
) -> Option<DefaultValue> {
    match default.get_ref() {
        toml::Value::Array(items) if items.is_empty() => Some(DefaultValue::EmptyList),
        _ => {
            reporter.error(
                default.span().start,
                format!("unsupported default for the list column `{column}`"),
                Some(
                    "a list column's default can only be the empty list, `default = []`".to_owned(),
                ),
            );
            None
        }
    }
}
