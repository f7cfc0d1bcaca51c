//! Rows written as export lines, CSV records (RFC 4180) or NDJSON objects, straight from the
//! typed read model: a CSV record is written field by field as the row serializes, with no
//! JSON text made and read back per row.

use serde::Serialize;
use serde::ser::{Error as _, Impossible, SerializeStruct};
use serde_json::Value;

/// What an export writes of each row.
#[derive(Debug, Clone)]
pub struct ExportShape {
    /// CSV records; else NDJSON objects.
    pub csv: bool,
    /// The fields written, in the table's order (`None`: every field).
    pub columns: Option<Vec<&'static str>>,
}

impl ExportShape {
    fn selects(&self, name: &str) -> bool {
        self.columns
            .as_ref()
            .is_none_or(|columns| columns.contains(&name))
    }

    /// Appends `row`'s line to `out`.
    pub fn write_row<T: Serialize>(&self, row: &T, out: &mut String) -> serde_json::Result<()> {
        if self.csv {
            return row.serialize(CsvRecord {
                out,
                shape: self,
                written: 0,
            });
        }
        match &self.columns {
            None => out.push_str(&serde_json::to_string(row)?),
            Some(_) => {
                // Through its JSON text, not `serde_json::to_value`, which would widen an `f32`
                // (a real column's 0.1 written 0.10000000149011612).
                let mut value: Value = serde_json::from_str(&serde_json::to_string(row)?)?;
                if let Value::Object(fields) = &mut value {
                    fields.retain(|name, _| self.selects(name));
                }
                out.push_str(&value.to_string());
            }
        }
        out.push('\n');
        Ok(())
    }
}

/// One CSV record: fields separated by commas, a field quoted (its quotes doubled) when it holds
/// a comma, a quote or a line break, or starts or ends with a space; CRLF after. Text as it is,
/// numbers and booleans as JSON writes them, lists and JSON values as JSON text, null empty.
pub fn write_csv_record<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    for (position, field) in fields.enumerate() {
        if position > 0 {
            out.push(',');
        }
        push_csv_field(out, field);
    }
    out.push_str("\r\n");
}

/// Whether a CSV field must be quoted.
fn needs_quotes(field: &str) -> bool {
    // By bytes: a char-set search took 4 % of an export's time (profiled).
    field.starts_with(' ')
        || field.ends_with(' ')
        || field
            .bytes()
            .any(|byte| matches!(byte, b',' | b'"' | b'\n' | b'\r'))
}

fn push_csv_field(out: &mut String, field: &str) {
    if needs_quotes(field) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// A serde serializer that takes a row (a struct) and writes its selected fields as a CSV
/// record; anything but a struct is an error (rows are structs).
struct CsvRecord<'a> {
    out: &'a mut String,
    shape: &'a ExportShape,
    written: usize,
}

fn not_a_row<T>() -> serde_json::Result<T> {
    Err(serde_json::Error::custom(
        "an exported row serializes as a struct",
    ))
}

macro_rules! not_a_row {
    ($($method:ident($($argument:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $argument),*) -> serde_json::Result<()> {
            not_a_row()
        })*
    };
}

impl<'a> serde::Serializer for CsvRecord<'a> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = Impossible<(), serde_json::Error>;
    type SerializeTuple = Impossible<(), serde_json::Error>;
    type SerializeTupleStruct = Impossible<(), serde_json::Error>;
    type SerializeTupleVariant = Impossible<(), serde_json::Error>;
    type SerializeMap = Impossible<(), serde_json::Error>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), serde_json::Error>;

    not_a_row!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> serde_json::Result<()> {
        not_a_row()
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> serde_json::Result<()> {
        not_a_row()
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> serde_json::Result<()> {
        not_a_row()
    }

    fn serialize_seq(self, _: Option<usize>) -> serde_json::Result<Self::SerializeSeq> {
        not_a_row()
    }

    fn serialize_tuple(self, _: usize) -> serde_json::Result<Self::SerializeTuple> {
        not_a_row()
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeTupleStruct> {
        not_a_row()
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeTupleVariant> {
        not_a_row()
    }

    fn serialize_map(self, _: Option<usize>) -> serde_json::Result<Self::SerializeMap> {
        not_a_row()
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeStruct> {
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeStructVariant> {
        not_a_row()
    }
}

impl SerializeStruct for CsvRecord<'_> {
    type Ok = ();
    type Error = serde_json::Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> serde_json::Result<()> {
        if !self.shape.selects(key) {
            return Ok(());
        }
        if self.written > 0 {
            self.out.push(',');
        }
        self.written += 1;
        // Scalars straight into the record; a list or an object (rare) as its JSON text.
        let start = self.out.len();
        if value.serialize(CsvField { out: self.out }).is_err() {
            self.out.truncate(start);
            push_csv_field(self.out, &serde_json::to_string(value)?);
        }
        Ok(())
    }

    fn end(self) -> serde_json::Result<()> {
        self.out.push_str("\r\n");
        Ok(())
    }
}

/// One field's value written into a CSV record: text as it is (quoted when it must be),
/// numbers and booleans as JSON writes them, null (and a number JSON cannot hold) empty.
/// Anything else (a list, an object, bytes) is an error, and the record takes its JSON text.
struct CsvField<'a> {
    out: &'a mut String,
}

impl CsvField<'_> {
    fn integer(self, value: impl std::fmt::Display) -> serde_json::Result<()> {
        use std::fmt::Write as _;
        write!(self.out, "{value}").expect("a String takes every write");
        Ok(())
    }

    /// As the JSON of a row writes it (shortest form, `1e+300` for large magnitudes).
    fn float<F: Serialize + Copy>(self, value: F, finite: bool) -> serde_json::Result<()> {
        if finite {
            self.out.push_str(&serde_json::to_string(&value)?);
        }
        Ok(())
    }
}

fn not_a_scalar<T>() -> serde_json::Result<T> {
    Err(serde_json::Error::custom(
        "not a scalar: written as JSON text",
    ))
}

macro_rules! integers {
    ($($method:ident($type:ty)),* $(,)?) => {
        $(fn $method(self, value: $type) -> serde_json::Result<()> {
            self.integer(value)
        })*
    };
}

impl serde::Serializer for CsvField<'_> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = Impossible<(), serde_json::Error>;
    type SerializeTuple = Impossible<(), serde_json::Error>;
    type SerializeTupleStruct = Impossible<(), serde_json::Error>;
    type SerializeTupleVariant = Impossible<(), serde_json::Error>;
    type SerializeMap = Impossible<(), serde_json::Error>;
    type SerializeStruct = Impossible<(), serde_json::Error>;
    type SerializeStructVariant = Impossible<(), serde_json::Error>;

    integers!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
    );

    fn serialize_bool(self, value: bool) -> serde_json::Result<()> {
        self.out.push_str(if value { "true" } else { "false" });
        Ok(())
    }

    fn serialize_f32(self, value: f32) -> serde_json::Result<()> {
        self.float(value, value.is_finite())
    }

    fn serialize_f64(self, value: f64) -> serde_json::Result<()> {
        self.float(value, value.is_finite())
    }

    fn serialize_char(self, value: char) -> serde_json::Result<()> {
        push_csv_field(self.out, value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, value: &str) -> serde_json::Result<()> {
        push_csv_field(self.out, value);
        Ok(())
    }

    fn serialize_bytes(self, _: &[u8]) -> serde_json::Result<()> {
        not_a_scalar()
    }

    /// Written in place (instants, dates, UUIDs serialize this way), quoted afterwards if it
    /// must be: no text made per value.
    fn collect_str<T: ?Sized + std::fmt::Display>(self, value: &T) -> serde_json::Result<()> {
        use std::fmt::Write as _;
        let start = self.out.len();
        write!(self.out, "{value}").expect("a String takes every write");
        if needs_quotes(&self.out[start..]) {
            let field = self.out.split_off(start);
            push_csv_field(self.out, &field);
        }
        Ok(())
    }

    fn serialize_none(self) -> serde_json::Result<()> {
        Ok(())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> serde_json::Result<()> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> serde_json::Result<()> {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> serde_json::Result<()> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> serde_json::Result<()> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> serde_json::Result<()> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> serde_json::Result<()> {
        not_a_scalar()
    }

    fn serialize_seq(self, _: Option<usize>) -> serde_json::Result<Self::SerializeSeq> {
        not_a_scalar()
    }

    fn serialize_tuple(self, _: usize) -> serde_json::Result<Self::SerializeTuple> {
        not_a_scalar()
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeTupleStruct> {
        not_a_scalar()
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeTupleVariant> {
        not_a_scalar()
    }

    fn serialize_map(self, _: Option<usize>) -> serde_json::Result<Self::SerializeMap> {
        not_a_scalar()
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeStruct> {
        not_a_scalar()
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeStructVariant> {
        not_a_scalar()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        id: i32,
        name: String,
        #[serde(rename = "type")]
        kind: Option<String>,
        tags: Vec<String>,
        active: bool,
    }

    fn row() -> Row {
        Row {
            id: 7,
            name: "say \"hi\", twice".into(),
            kind: None,
            tags: vec!["a".into(), "b".into()],
            active: true,
        }
    }

    #[test]
    fn csv_records_quote_what_rfc_4180_requires() {
        let mut out = String::new();
        write_csv_record(
            &mut out,
            ["plain", "a,b", "say \"hi\"", "two\nlines", "", " padded"].into_iter(),
        );
        assert_eq!(
            out,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,\" padded\"\r\n"
        );
    }

    /// A regression: each field went through `serde_json::Value`, which holds an `f32` as the
    /// `f64` it widens to, so a real column's 0.1 was exported as 0.10000000149011612 while its
    /// list showed 0.1.
    #[test]
    fn numbers_are_written_as_a_row_json_writes_them() {
        #[derive(Serialize)]
        struct Numbers {
            real: f32,
            double: f64,
            not_a_number: f64,
            big: i64,
            maybe: Option<u8>,
            nothing: Option<u8>,
            json: Value,
            text_json: Value,
        }
        let mut out = String::new();
        ExportShape {
            csv: true,
            columns: None,
        }
        .write_row(
            &Numbers {
                real: 0.1,
                double: 1e300,
                not_a_number: f64::NAN,
                big: -9_007_199_254_740_993,
                maybe: Some(5),
                nothing: None,
                json: serde_json::json!({"a": [1, "b"]}),
                text_json: Value::from("plain, text"),
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            "0.1,1e+300,,-9007199254740993,5,,\"{\"\"a\"\":[1,\"\"b\"\"]}\",\"plain, text\"\r\n"
        );
        #[derive(Serialize)]
        struct Real {
            id: i32,
            weight: f32,
        }
        let mut line = String::new();
        ExportShape {
            csv: false,
            columns: Some(vec!["weight"]),
        }
        .write_row(&Real { id: 1, weight: 0.1 }, &mut line)
        .unwrap();
        assert_eq!(line, "{\"weight\":0.1}\n");
        // Displayed values (instants, dates) are quoted like text when they must be.
        #[derive(Serialize)]
        struct Displayed {
            #[serde(serialize_with = "serialize_displayed")]
            plain: &'static str,
            #[serde(serialize_with = "serialize_displayed")]
            with_comma: &'static str,
        }
        fn serialize_displayed<S: serde::Serializer>(
            value: &&'static str,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serializer.collect_str(value)
        }
        let mut out = String::new();
        ExportShape {
            csv: true,
            columns: None,
        }
        .write_row(
            &Displayed {
                plain: "2024-01-01T00:00:00Z",
                with_comma: "a, \"b\"",
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(out, "2024-01-01T00:00:00Z,\"a, \"\"b\"\"\"\r\n");
    }

    #[test]
    fn a_typed_row_is_written_field_by_field() {
        let mut out = String::new();
        let all = ExportShape {
            csv: true,
            columns: None,
        };
        all.write_row(&row(), &mut out).unwrap();
        assert_eq!(
            out,
            "7,\"say \"\"hi\"\", twice\",,\"[\"\"a\"\",\"\"b\"\"]\",true\r\n"
        );
        let mut out = String::new();
        let some = ExportShape {
            csv: true,
            columns: Some(vec!["type", "id"]),
        };
        some.write_row(&row(), &mut out).unwrap();
        assert_eq!(out, "7,\r\n", "the table's order, not the list's");
        let mut out = String::new();
        ExportShape {
            csv: false,
            columns: Some(vec!["id", "active"]),
        }
        .write_row(&row(), &mut out)
        .unwrap();
        assert_eq!(out, "{\"id\":7,\"active\":true}\n");
    }
}
