//! How each portable column type appears in diesel's `table!`, in Rust models and in metadata.

use proc_macro2::TokenStream;
use quote::quote;
use tenantapi_schema::model::{Column, ColumnKind, ColumnType};

/// The SQL type of a column as written inside `diesel::table!` (diesel's types are in scope
/// there, ours under `tenantapi_types`), without nullability.
pub fn diesel_column_type(column: &Column) -> String {
    if column.array {
        // A list is JSON text on SQLite, its items checked by serde: diesel's item types do.
        format!(
            "tenantapi_types::PortableArray<{}>",
            diesel_sql_type(column.ty)
        )
    } else {
        checked_sql_type(column.ty).unwrap_or_else(|| diesel_sql_type(column.ty))
    }
}

/// The runtime's own SQL type for a scalar whose diesel SQLite read would change a value a
/// SQLite column can hold (`'t'` read as `0`, `2006-02-14` refused in a timestamp column):
/// read by storage class there, by diesel on PostgreSQL (`tenantapi_runtime::data::stored`). Text
/// too: diesel's SQLite read turns bytes that are not UTF-8 into U+FFFD.
fn checked_sql_type(ty: ColumnType) -> Option<String> {
    let name = match ty {
        ColumnType::SmallInt => "PortableSmallInt",
        ColumnType::Integer | ColumnType::Serial => "PortableInteger",
        ColumnType::BigInt | ColumnType::BigSerial => "PortableBigInt",
        ColumnType::Boolean => "PortableBool",
        ColumnType::Real => "PortableFloat",
        ColumnType::Double => "PortableDouble",
        ColumnType::Date => "PortableDate",
        ColumnType::Time => "PortableTime",
        ColumnType::Timestamp => "PortableTimestamp",
        ColumnType::Text
        | ColumnType::Varchar { .. }
        | ColumnType::Char { .. }
        | ColumnType::Citext
        | ColumnType::Enum => "PortableText",
        _ => return None,
    };
    Some(format!("tenantapi_types::{name}"))
}

/// The SQL type of a column as a path usable anywhere (diesel's types under
/// `::diesel::sql_types`, ours under the runtime's), with its nullability: how a table read by
/// position names each column's type.
pub fn qualified_sql_type(column: &Column) -> TokenStream {
    let qualify = |name: &str| -> String {
        match name.strip_prefix("tenantapi_types::") {
            Some(own) => format!("::tenantapi_runtime::data::values::sql_types::{own}"),
            None => format!("::diesel::sql_types::{name}"),
        }
    };
    let text = diesel_column_type(column);
    let qualified = match text.split_once('<') {
        // `PortableArray<Item>`: the one generic type, its item a diesel type.
        Some((outer, inner)) => format!(
            "{}<{}>",
            qualify(outer),
            qualify(inner.trim_end_matches('>'))
        ),
        None => qualify(&text),
    };
    let qualified = if column.nullable {
        format!("::diesel::sql_types::Nullable<{qualified}>")
    } else {
        qualified
    };
    qualified
        .parse()
        .expect("SQL type paths are valid Rust paths")
}

/// The SQL type `diesel::joinable!` compares a foreign key with the key it references by
/// (every text type is `PortableText`), nullability aside.
pub fn join_type(column: &Column) -> String {
    diesel_column_type(column)
}

/// The Rust type of a column's non-null value in the read model.
pub fn rust_column_type(column: &Column) -> TokenStream {
    let scalar = rust_type(column.ty);
    if column.array {
        quote!(::tenantapi_runtime::List<#scalar>)
    } else {
        scalar
    }
}

/// The SQL type of a scalar as written inside `diesel::table!`.
fn diesel_sql_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::SmallInt => "Int2".into(),
        ColumnType::Integer | ColumnType::Serial => "Int4".into(),
        ColumnType::BigInt | ColumnType::BigSerial => "Int8".into(),
        ColumnType::Boolean => "Bool".into(),
        ColumnType::Real => "Float4".into(),
        ColumnType::Double => "Float8".into(),
        ColumnType::Numeric { .. } => "tenantapi_types::PortableNumeric".into(),
        ColumnType::Text => "Text".into(),
        ColumnType::Varchar { .. } => "Varchar".into(),
        // Both arrive as their text; `citext` and `bpchar` comparisons are the database's.
        ColumnType::Char { .. } | ColumnType::Citext => "Text".into(),
        ColumnType::Date => "Date".into(),
        ColumnType::Time => "Time".into(),
        ColumnType::Timestamp => "Timestamp".into(),
        ColumnType::Timestamptz => "tenantapi_types::PortableTimestamptz".into(),
        ColumnType::Uuid => "tenantapi_types::PortableUuid".into(),
        ColumnType::Json => "tenantapi_types::PortableJson".into(),
        ColumnType::Bytes => "Binary".into(),
        // PostgreSQL sends an enum value as its label's text; writes cast to the type.
        ColumnType::Enum => "Text".into(),
    }
}

/// The Rust type of a non-null scalar in the generated models.
fn rust_type(ty: ColumnType) -> TokenStream {
    match ty {
        ColumnType::SmallInt => quote!(i16),
        ColumnType::Integer | ColumnType::Serial => quote!(i32),
        ColumnType::BigInt | ColumnType::BigSerial => quote!(i64),
        ColumnType::Boolean => quote!(bool),
        ColumnType::Real => quote!(f32),
        ColumnType::Double => quote!(f64),
        ColumnType::Numeric { scale, .. } => {
            let scale = proc_macro2::Literal::u32_unsuffixed(scale);
            quote!(::tenantapi_runtime::Decimal<#scale>)
        }
        ColumnType::Text
        | ColumnType::Varchar { .. }
        | ColumnType::Char { .. }
        | ColumnType::Citext
        | ColumnType::Enum => quote!(::std::string::String),
        ColumnType::Date => quote!(::tenantapi_runtime::reexports::chrono::NaiveDate),
        ColumnType::Time => quote!(::tenantapi_runtime::reexports::chrono::NaiveTime),
        ColumnType::Timestamp => quote!(::tenantapi_runtime::reexports::chrono::NaiveDateTime),
        ColumnType::Timestamptz => quote!(::tenantapi_runtime::Timestamptz),
        ColumnType::Uuid => quote!(::tenantapi_runtime::Uuid),
        ColumnType::Json => quote!(::tenantapi_runtime::Json),
        ColumnType::Bytes => quote!(::tenantapi_runtime::Bytes),
    }
}

/// The tokens of the runtime's `ColumnKind` for a column type ([`ColumnType::kind`]).
pub fn column_kind(ty: ColumnType) -> TokenStream {
    let kind = quote!(::tenantapi_runtime::data::meta::ColumnKind);
    match ty.kind() {
        ColumnKind::SmallInt => quote!(#kind::SmallInt),
        ColumnKind::Integer => quote!(#kind::Integer),
        ColumnKind::BigInt => quote!(#kind::BigInt),
        ColumnKind::Boolean => quote!(#kind::Boolean),
        ColumnKind::Real => quote!(#kind::Real),
        ColumnKind::Double => quote!(#kind::Double),
        ColumnKind::Numeric { precision, scale } => {
            quote!(#kind::Numeric { precision: #precision, scale: #scale })
        }
        ColumnKind::Text => quote!(#kind::Text),
        ColumnKind::Varchar { max_length } => quote!(#kind::Varchar { max_length: #max_length }),
        ColumnKind::Char { length } => quote!(#kind::Char { length: #length }),
        ColumnKind::Citext => quote!(#kind::Citext),
        ColumnKind::Date => quote!(#kind::Date),
        ColumnKind::Time => quote!(#kind::Time),
        ColumnKind::Timestamp => quote!(#kind::Timestamp),
        ColumnKind::Timestamptz => quote!(#kind::Timestamptz),
        ColumnKind::Uuid => quote!(#kind::Uuid),
        ColumnKind::Json => quote!(#kind::Json),
        ColumnKind::Bytes => quote!(#kind::Bytes),
        ColumnKind::Enum => quote!(#kind::Enum),
    }
}
