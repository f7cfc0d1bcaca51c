//! The validated, lowered model of a schema description: what renderers consume.
//!
//! Everything here is plain data. Renderers never look at the raw TOML; every
//! Rust identifier is derived once, by [`crate::names`], and stored beside the
//! SQL name it came from.

/// A validated schema description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Version of the external structure, compared exactly with the live database.
    pub version: String,
    /// Where a live project database records its structure version.
    pub version_source: VersionSource,
    /// The PostgreSQL schema holding the tables (`None`: the connection's default, `public`).
    /// SQLite has no schemas and ignores it.
    pub postgres_schema: Option<String>,
    /// Named enumerations, in the order of the description file.
    pub enums: Vec<EnumType>,
    /// Tables in the order of the description file.
    pub tables: Vec<Table>,
}

/// A named enumeration (`[[enum]]`): a PostgreSQL enum type, TEXT with a CHECK on SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumType {
    /// The type's SQL name; columns name it as their `type`.
    pub sql_name: String,
    pub doc: Option<String>,
    /// The values, in the enumeration's order.
    pub values: Vec<String>,
}

/// `SELECT <column> FROM <table>` yields the structure version of a live database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSource {
    pub table: String,
    pub column: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub sql_name: String,
    /// snake_case Rust identifier: the diesel `table!` module and handler module name.
    pub rust_name: String,
    /// CamelCase Rust identifier: the read model struct; insert and patch models derive from it.
    pub struct_name: String,
    /// Human name used in messages, DRF style: `data_point` -> "data point".
    pub verbose_name: String,
    pub doc: Option<String>,
    /// Views and tables the API must never write: only GET routes are served.
    pub read_only: bool,
    /// Columns in the order of the description file.
    pub columns: Vec<Column>,
    /// Indices into `columns`, in key order. Empty only for read-only tables.
    pub primary_key: Vec<usize>,
    /// Unique constraints (single and multi-column), as indices into `columns`.
    /// A single-column primary key is not repeated here.
    pub unique: Vec<Vec<usize>>,
    pub foreign_keys: Vec<ForeignKey>,
    /// The default order of lists, as `(column index, descending)`, before the primary key;
    /// empty means by the primary key, or without one by every column that has an order.
    pub ordering: Vec<(usize, bool)>,
    /// Columns of the live table that the description leaves out (types the format cannot
    /// express): the API never reads or writes them and drift does not report them.
    pub ignored_columns: Vec<String>,
    /// The PostgreSQL schema holding this table when it is not the description's own
    /// (`sales.customer` beside `person.person`); SQLite has no schemas and ignores it.
    pub postgres_schema: Option<String>,
    /// The fields `?search=` matches (`search`), in the description's order.
    pub search: Vec<SearchField>,
}

/// A field `?search=` matches, as DRF's `search_fields` name one: a column of the table, or
/// of the row one of its foreign keys references, with how a term matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchField {
    pub mode: SearchMode,
    /// Index into the table's `foreign_keys` when the column is the referenced row's.
    pub via: Option<usize>,
    /// Index into the columns of the table that holds it (the referenced one through `via`).
    pub column: usize,
}

/// How a search term matches a field: DRF's prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// No prefix: the field contains the term, ignoring case (`icontains`).
    Contains,
    /// `^`: the field starts with the term, ignoring case (`istartswith`).
    StartsWith,
    /// `=`: the field is the term (ignoring case for text: `iexact`).
    Exact,
    /// `@`: full-text search on PostgreSQL (the database's default text search configuration;
    /// a `tsvector` column is matched as it is); on SQLite, `Contains`.
    FullText,
}

impl SearchMode {
    /// The prefix that names the mode in a description, in OPTIONS and in the document.
    pub fn prefix(self) -> &'static str {
        match self {
            SearchMode::Contains => "",
            SearchMode::StartsWith => "^",
            SearchMode::Exact => "=",
            SearchMode::FullText => "@",
        }
    }

    /// The mode a written field's prefix names, and the rest of it.
    pub fn split(written: &str) -> (SearchMode, &str) {
        for mode in [
            SearchMode::StartsWith,
            SearchMode::Exact,
            SearchMode::FullText,
        ] {
            if let Some(rest) = written.strip_prefix(mode.prefix()) {
                return (mode, rest);
            }
        }
        (SearchMode::Contains, written)
    }

    /// The lookup whose column shapes the mode takes.
    pub fn lookup(self) -> Lookup {
        match self {
            SearchMode::Exact => Lookup::Exact,
            _ => Lookup::IContains,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            SearchMode::Contains => "contains",
            SearchMode::StartsWith => "starts with",
            SearchMode::Exact => "exact",
            SearchMode::FullText => "full text",
        }
    }
}

impl Schema {
    /// A search field as a description writes it: its mode's prefix, the relation when it is a
    /// referenced row's column, the column (`^code`, `site.name`).
    pub fn search_field_text(&self, table: &Table, field: &SearchField) -> String {
        match field.via {
            None => format!(
                "{}{}",
                field.mode.prefix(),
                table.columns[field.column].sql_name
            ),
            Some(index) => {
                let key = &table.foreign_keys[index];
                format!(
                    "{}{}.{}",
                    field.mode.prefix(),
                    crate::names::relation_name(&table.columns[key.column].sql_name),
                    self.tables[key.references_table].columns[field.column].sql_name
                )
            }
        }
    }

    /// The PostgreSQL schemas the tables live in, in the order a project connection's search
    /// path lists them: the description's schema (or `public`) first, then the other tables'
    /// schemas in description order. Tables are named without their schema in every statement,
    /// and table names are unique across schemas, so the search path resolves each. Empty when
    /// every table is in `public`, which needs no setting.
    pub fn postgres_search_path(&self) -> Vec<&str> {
        let mut path = vec![self.postgres_schema.as_deref().unwrap_or("public")];
        for table in &self.tables {
            if let Some(schema) = table.postgres_schema.as_deref()
                && !path.contains(&schema)
            {
                path.push(schema);
            }
        }
        if path == ["public"] {
            path.clear();
        }
        path
    }
}

impl Table {
    pub fn primary_key_columns(&self) -> impl Iterator<Item = &Column> {
        self.primary_key.iter().map(|&index| &self.columns[index])
    }

    pub fn column(&self, sql_name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|column| column.sql_name == sql_name)
    }

    /// Whether the table is too wide for diesel's `table!`
    /// ([`crate::lower::MAX_TYPED_TABLE_COLUMNS`]): then it has no `table!`, and its rows are
    /// read by position from a statement the runtime builds from its metadata.
    pub fn reads_by_position(&self) -> bool {
        self.columns.len() > crate::lower::MAX_TYPED_TABLE_COLUMNS
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub sql_name: String,
    /// snake_case Rust identifier, never a keyword; may differ from `sql_name`.
    pub rust_name: String,
    pub doc: Option<String>,
    pub ty: ColumnType,
    pub nullable: bool,
    /// A server-side default: the column may be omitted on create.
    pub default: Option<DefaultValue>,
    /// For [`ColumnType::Enum`]: the index of its enumeration in [`Schema::enums`].
    pub enum_type: Option<usize>,
    /// A list of `ty` values: a PostgreSQL array, JSON text on SQLite.
    pub array: bool,
    /// The API never writes it (a trigger-maintained column, one served as text).
    pub read_only: bool,
    /// A stored generated column: the database computes it from this SQL expression (as the
    /// database prints it). Always read-only.
    pub generated: Option<String>,
    /// The live type of a column whose type the format cannot express (`tsvector`): served
    /// read-only as the database's text form. `ty` is then `text`.
    pub database_type: Option<String>,
    /// The PostgreSQL domain the live column is declared with (over `ty`): its CHECK is the
    /// database's, and a violation is reported under this column.
    pub domain: Option<String>,
}

impl Column {
    /// Filled by the database (serial, bigserial): ignored on input, never required.
    pub fn is_generated(&self) -> bool {
        matches!(self.ty, ColumnType::Serial | ColumnType::BigSerial)
    }

    /// Never written by the API: a client sending it gets a 400.
    pub fn is_read_only(&self) -> bool {
        self.read_only || self.generated.is_some() || self.database_type.is_some()
    }

    /// May be left out of a create request.
    pub fn is_optional_on_create(&self) -> bool {
        self.is_generated() || self.is_read_only() || self.default.is_some() || self.nullable
    }

    /// The description's spelling of the column's type: `varchar(20)`, `text[]`, an enum's name.
    pub fn type_spelling(&self, enums: &[EnumType]) -> String {
        let element = match self.enum_type {
            Some(index) => enums[index].sql_name.clone(),
            None => self.ty.spelling(),
        };
        if self.array {
            format!("{element}[]")
        } else {
            element
        }
    }
}

/// Declares [`ColumnType`] and [`ColumnKind`] from one list of kinds, so that the two cannot
/// drift apart: a type is a kind or one of the two serials (a type says how the database
/// produces a column's values, a kind how the API treats them), and [`ColumnType::kind`] is the
/// one mapping between them. Two flat enums rather than a nested `Kind(ColumnKind)`: the
/// renderers and the readers of live structures match on types exhaustively, and nesting would
/// make each of those matches two levels deep for the serials' sake.
macro_rules! column_kinds {
    ($($(#[doc = $doc:literal])* $kind:ident $({ $($field:ident: $field_type:ty),+ })?,)+) => {
        /// Portable column types, mapped to each backend by the renderers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ColumnType {
            $($(#[doc = $doc])* $kind $({ $($field: $field_type),+ })?,)+
            /// A 32-bit integer generated by the database.
            Serial,
            /// A 64-bit integer generated by the database.
            BigSerial,
        }

        /// The kind of a column, as far as the API is concerned (validation, filtering, JSON):
        /// a [`ColumnType`] without how its values are produced (a serial is an integer kind).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ColumnKind {
            $($(#[doc = $doc])* $kind $({ $($field: $field_type),+ })?,)+
        }

        impl ColumnType {
            /// The API's kind of this type: the one mapping from description types to the
            /// kinds the runtime validates, filters and serializes by.
            pub fn kind(self) -> ColumnKind {
                match self {
                    ColumnType::Serial => ColumnKind::Integer,
                    ColumnType::BigSerial => ColumnKind::BigInt,
                    $(ColumnType::$kind $({ $($field),+ })? => ColumnKind::$kind $({ $($field),+ })?,)+
                }
            }
        }
    };
}

column_kinds! {
    SmallInt,
    Integer,
    BigInt,
    Boolean,
    Real,
    Double,
    Numeric { precision: u32, scale: u32 },
    Text,
    Varchar { max_length: u32 },
    /// Fixed-length text (`character(n)`, `bpchar`), returned as stored: PostgreSQL pads it
    /// with spaces.
    Char { length: u32 },
    /// Case-insensitive text: PostgreSQL's `citext`, `TEXT COLLATE NOCASE` on SQLite;
    /// equality and uniqueness ignore case, as the database does.
    Citext,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Uuid,
    Json,
    Bytes,
    /// One of a named enumeration's values (which one is the column's `enum_type`); JSON: the
    /// value as a string.
    Enum,
}

impl ColumnType {
    /// The spelling used in the description file, e.g. `varchar(255)`.
    pub fn spelling(&self) -> String {
        match self {
            ColumnType::Serial => "serial".into(),
            ColumnType::BigSerial => "bigserial".into(),
            other => other.kind().spelling(),
        }
    }

    /// Integer-valued types, the only ones a foreign key may reference besides text and uuid.
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            ColumnType::SmallInt
                | ColumnType::Integer
                | ColumnType::BigInt
                | ColumnType::Serial
                | ColumnType::BigSerial
        )
    }

    pub fn is_textual(&self) -> bool {
        self.kind().is_textual()
    }

    /// Types an array column may hold: the scalars with a JSON form and an order, not keys
    /// generated by the database, JSON documents or byte strings.
    pub fn can_be_array_element(&self) -> bool {
        !matches!(
            self,
            ColumnType::Serial | ColumnType::BigSerial | ColumnType::Json | ColumnType::Bytes
        )
    }
}

/// Server-side defaults that both backends can express.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    /// The current date, time or timestamp (`"now"` in the description file).
    Now,
    Boolean(bool),
    Integer(i64),
    /// Kept as written so that output is exact and deterministic.
    Number(String),
    Text(String),
    /// An empty list, for array columns (`default = []`).
    EmptyList,
}

impl Eq for DefaultValue {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    /// Index into the owning table's columns.
    pub column: usize,
    /// Index into `Schema::tables`.
    pub references_table: usize,
    /// Index into the referenced table's columns.
    pub references_column: usize,
    pub on_delete: OnDelete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl OnDelete {
    /// Every action, for messages.
    pub const ALL: [OnDelete; 5] = [
        OnDelete::NoAction,
        OnDelete::Restrict,
        OnDelete::Cascade,
        OnDelete::SetNull,
        OnDelete::SetDefault,
    ];

    pub fn sql(&self) -> &'static str {
        match self {
            OnDelete::NoAction => "NO ACTION",
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
            OnDelete::SetDefault => "SET DEFAULT",
        }
    }

    /// The description format's word (`on_delete = "set_null"`), which the runtime's metadata
    /// and introspection use too.
    pub fn word(&self) -> &'static str {
        match self {
            OnDelete::NoAction => "no_action",
            OnDelete::Restrict => "restrict",
            OnDelete::Cascade => "cascade",
            OnDelete::SetNull => "set_null",
            OnDelete::SetDefault => "set_default",
        }
    }

    pub fn from_word(word: &str) -> Option<OnDelete> {
        OnDelete::ALL
            .into_iter()
            .find(|action| action.word() == word)
    }

    /// Whether a delete of the referenced row writes into the referencing column (which then
    /// must accept what it writes).
    pub fn writes_the_column(&self) -> bool {
        matches!(self, OnDelete::SetNull | OnDelete::SetDefault)
    }
}

impl ColumnKind {
    /// Kinds that take the text lookups (`__contains`, `__startswith`...).
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            ColumnKind::Text
                | ColumnKind::Varchar { .. }
                | ColumnKind::Char { .. }
                | ColumnKind::Citext
        )
    }

    /// Kinds whose values are numbers: sums and averages take them.
    pub fn is_number(self) -> bool {
        matches!(
            self,
            ColumnKind::SmallInt
                | ColumnKind::Integer
                | ColumnKind::BigInt
                | ColumnKind::Real
                | ColumnKind::Double
                | ColumnKind::Numeric { .. }
        )
    }

    /// The most characters a value may have, if the type limits it.
    pub fn max_length(self) -> Option<u32> {
        match self {
            ColumnKind::Varchar { max_length } => Some(max_length),
            ColumnKind::Char { length } => Some(length),
            _ => None,
        }
    }

    /// Kinds with a meaningful order, for `?ordering=` (an enumeration by its values' order
    /// on PostgreSQL, by text on SQLite).
    pub fn is_ordered(self) -> bool {
        !matches!(
            self,
            ColumnKind::Json | ColumnKind::Bytes | ColumnKind::Boolean
        )
    }

    /// Kinds that `__gt` and friends compare.
    pub fn supports_ranges(self) -> bool {
        self.is_ordered() && self != ColumnKind::Enum
    }

    /// Kinds that `?col=value` and `__in` can compare for equality.
    pub fn supports_equality(self) -> bool {
        !matches!(self, ColumnKind::Json | ColumnKind::Bytes)
    }

    /// The description file's spelling, e.g. `varchar(255)`.
    pub fn spelling(self) -> String {
        match self {
            ColumnKind::SmallInt => "smallint".into(),
            ColumnKind::Integer => "integer".into(),
            ColumnKind::BigInt => "bigint".into(),
            ColumnKind::Boolean => "boolean".into(),
            ColumnKind::Real => "real".into(),
            ColumnKind::Double => "double".into(),
            ColumnKind::Numeric { precision, scale } => format!("numeric({precision}, {scale})"),
            ColumnKind::Text => "text".into(),
            ColumnKind::Varchar { max_length } => format!("varchar({max_length})"),
            ColumnKind::Char { length } => format!("char({length})"),
            ColumnKind::Citext => "citext".into(),
            ColumnKind::Date => "date".into(),
            ColumnKind::Time => "time".into(),
            ColumnKind::Timestamp => "timestamp".into(),
            ColumnKind::Timestamptz => "timestamptz".into(),
            ColumnKind::Uuid => "uuid".into(),
            ColumnKind::Json => "json".into(),
            ColumnKind::Bytes => "bytes".into(),
            ColumnKind::Enum => "enum".into(),
        }
    }
}

/// Query parameters of a list that are never filters. A column with one of these names is
/// filtered with `name__exact=` (see [`Lookup::parameter`]).
pub const RESERVED_QUERY_PARAMETERS: &[&str] = &[
    "format",
    "page",
    "page_size",
    "ordering",
    "count",
    "cursor",
    "fields",
    "omit",
    "expand",
    "search",
];

/// A filter lookup: `?col=` is `Exact`, `?col__in=` is `In`, and so on (Django's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lookup {
    Exact,
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    IsNull,
    Contains,
    IContains,
    StartsWith,
    IStartsWith,
    EndsWith,
}

impl Lookup {
    pub const ALL: [Lookup; 12] = [
        Lookup::Exact,
        Lookup::In,
        Lookup::Gt,
        Lookup::Gte,
        Lookup::Lt,
        Lookup::Lte,
        Lookup::IsNull,
        Lookup::Contains,
        Lookup::IContains,
        Lookup::StartsWith,
        Lookup::IStartsWith,
        Lookup::EndsWith,
    ];

    /// The name after `__` in a query parameter.
    pub fn name(self) -> &'static str {
        match self {
            Lookup::Exact => "exact",
            Lookup::In => "in",
            Lookup::Gt => "gt",
            Lookup::Gte => "gte",
            Lookup::Lt => "lt",
            Lookup::Lte => "lte",
            Lookup::IsNull => "isnull",
            Lookup::Contains => "contains",
            Lookup::IContains => "icontains",
            Lookup::StartsWith => "startswith",
            Lookup::IStartsWith => "istartswith",
            Lookup::EndsWith => "endswith",
        }
    }

    /// The query parameter of this lookup on `column`: `column__lookup`, or for `Exact` the
    /// column's name alone unless that name is a reserved parameter.
    pub fn parameter(self, column: &str) -> String {
        if self == Lookup::Exact && !RESERVED_QUERY_PARAMETERS.contains(&column) {
            column.to_string()
        } else {
            format!("{column}__{}", self.name())
        }
    }

    pub fn parse(name: &str) -> Option<Lookup> {
        Lookup::ALL.into_iter().find(|lookup| lookup.name() == name)
    }

    /// Whether a column takes this lookup: by its kind; a list only `__contains` (every given
    /// item present) and `__isnull`; a column served as text only `__isnull` (the database
    /// compares its own type, not the text).
    pub fn applies_to(self, shape: ColumnShape) -> bool {
        if shape.text_form {
            return self == Lookup::IsNull;
        }
        if shape.array {
            return matches!(self, Lookup::IsNull | Lookup::Contains);
        }
        let kind = shape.kind;
        match self {
            Lookup::IsNull => true,
            Lookup::Exact | Lookup::In => kind.supports_equality(),
            Lookup::Gt | Lookup::Gte | Lookup::Lt | Lookup::Lte => kind.supports_ranges(),
            Lookup::Contains
            | Lookup::IContains
            | Lookup::StartsWith
            | Lookup::IStartsWith
            | Lookup::EndsWith => kind.is_textual(),
        }
    }
}

/// What the API's filters and ordering depend on about a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnShape {
    pub kind: ColumnKind,
    /// A list of `kind` values.
    pub array: bool,
    /// Served as the database's text form (`database_type`).
    pub text_form: bool,
}

impl ColumnShape {
    /// The lookups `?col__lookup=` accepts for this column, in a fixed order.
    pub fn lookups(self) -> impl Iterator<Item = Lookup> {
        Lookup::ALL
            .into_iter()
            .filter(move |lookup| lookup.applies_to(self))
    }

    /// Whether `?ordering=` may name it: single values with an order (booleans too: false
    /// before true on both backends).
    pub fn is_orderable(self) -> bool {
        !self.array
            && !self.text_form
            && (self.kind.is_ordered() || self.kind == ColumnKind::Boolean)
    }
}

impl Column {
    pub fn shape(&self) -> ColumnShape {
        ColumnShape {
            kind: self.ty.kind(),
            array: self.array,
            text_form: self.database_type.is_some(),
        }
    }
}
