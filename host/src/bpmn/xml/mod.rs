//! XML reading and positions: quick-xml's namespace-aware events become the
//! few [`Token`]s the parser acts on, each with the byte offset where it
//! starts, and offsets become lines and columns ([`LineIndex`]). Whatever
//! makes a file not well-formed is found here and is [`Fatal`].

mod lines;

use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{Decoder, NsReader};

pub(super) use lines::LineIndex;

use super::spec::Position;
use super::vocabulary::{Attrs, Ns, namespace};

/// A problem after which nothing else is worth reporting: the XML is not
/// well-formed, or the file is not BPMN.
#[derive(Debug)]
pub(super) struct Fatal {
    /// Byte offset in the input where the problem is.
    pub(super) offset: usize,
    /// What is wrong.
    pub(super) message: String,
}

impl Fatal {
    /// A fatal problem at `offset`.
    pub(super) fn new(offset: usize, message: impl Into<String>) -> Self {
        Fatal {
            offset,
            message: message.into(),
        }
    }
}

/// What the parser acts on.
pub(super) enum Token<'a> {
    /// A start tag; `empty` for an empty element (`<x/>`), closed right after.
    Open {
        /// The tag.
        tag: Tag<'a>,
        /// The element has no content and no end tag.
        empty: bool,
    },
    /// An end tag.
    Close,
    /// Character data (a text, a CDATA section or one resolved reference),
    /// decoded, and the byte offset in the input where it starts.
    Text(String, usize),
    /// The end of the input.
    Eof,
}

/// One start tag.
pub(super) struct Tag<'a> {
    /// The namespace of the element.
    pub(super) ns: Ns,
    /// The element's prefix, when it is not declared.
    pub(super) undeclared: Option<Vec<u8>>,
    /// Byte offset of its `<`.
    pub(super) offset: usize,
    start: BytesStart<'a>,
    /// The whole input the tag is in.
    input: &'a str,
    decoder: Decoder,
}

impl<'a> Tag<'a> {
    /// The local name (without prefix).
    pub(super) fn local_name(&self) -> &[u8] {
        self.start.local_name().into_inner()
    }

    /// The qualified name, as written.
    pub(super) fn qname(&self) -> String {
        String::from_utf8_lossy(self.start.name().as_ref()).into_owned()
    }

    /// The attributes. All of them are checked for well-formedness; those the
    /// parser uses ([`Attrs`]) are decoded when `decode`.
    pub(super) fn attrs(&self, decode: bool) -> Result<Attrs<'a>, Fatal> {
        let mut attrs = Attrs::default();
        for attr in self.start.attributes() {
            let attr = attr.map_err(|err| xml_error(&err.into(), self.offset))?;
            if !decode {
                continue;
            }
            let Some(slot) = attrs.slot(attr.key.as_ref()) else {
                continue;
            };
            let value = attr.decode_and_unescape_value(self.decoder).map_err(|err| {
                let key = String::from_utf8_lossy(attr.key.as_ref());
                let detail = match err {
                    quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, name)) => unknown_entity(&name),
                    other => other.to_string(),
                };
                Fatal::new(self.offset, format!("XML error: in attribute `{key}`: {detail}"))
            })?;
            let is_id = attr.key.as_ref() == b"id";
            let text = if is_id { within(self.input, &value) } else { None };
            *slot = Some(value.into_owned());
            if is_id {
                attrs.id_text = text;
            }
        }
        Ok(attrs)
    }
}

/// The input being read, and its line index.
pub(super) struct XmlReader<'a> {
    input: &'a str,
    reader: NsReader<&'a [u8]>,
    lines: LineIndex<'a>,
}

impl<'a> XmlReader<'a> {
    /// A reader of `input` (without byte order mark, so that offsets are
    /// offsets in the text indexed).
    pub(super) fn new(input: &'a str) -> Self {
        XmlReader {
            input,
            reader: NsReader::from_str(input),
            lines: LineIndex::new(input),
        }
    }

    /// The next token. Character data is decoded and returned only when
    /// `want_text` (the parser is collecting a script or an expression);
    /// references are resolved, and checked, everywhere.
    pub(super) fn next(&mut self, want_text: bool) -> Result<Token<'a>, Fatal> {
        loop {
            let before = offset(self.reader.buffer_position());
            let (ns, undeclared, event) = match self.reader.read_resolved_event() {
                Ok((resolved, event)) => {
                    let (ns, undeclared) = match resolved {
                        ResolveResult::Bound(Namespace(uri)) => (namespace(uri), None),
                        ResolveResult::Unknown(prefix) => (Ns::Other, Some(prefix)),
                        ResolveResult::Unbound => (Ns::Other, None),
                    };
                    (ns, undeclared, event)
                }
                Err(e) => return Err(xml_error(&e, offset(self.reader.error_position()))),
            };
            let (start, empty) = match event {
                Event::Start(start) => (start, false),
                Event::Empty(start) => (start, true),
                Event::End(_) => return Ok(Token::Close),
                Event::Text(t) if want_text => {
                    let text = t.decode().map_err(|e| xml_error(&e.into(), before))?;
                    return Ok(Token::Text(text.into_owned(), before));
                }
                Event::CData(c) if want_text => {
                    let text = c.decode().map_err(|e| xml_error(&e.into(), before))?;
                    let start = match self.input.get(before..) {
                        Some(rest) if rest.starts_with("<![CDATA[") => before + 9,
                        _ => before,
                    };
                    return Ok(Token::Text(text.into_owned(), start));
                }
                Event::GeneralRef(r) => {
                    let text = reference(&r, before)?;
                    if want_text {
                        return Ok(Token::Text(text, before));
                    }
                    continue;
                }
                Event::Eof => return Ok(Token::Eof),
                _ => continue,
            };
            let tag = Tag {
                ns,
                undeclared,
                offset: self.tag_offset(before),
                start,
                input: self.input,
                decoder: self.reader.decoder(),
            };
            return Ok(Token::Open { tag, empty });
        }
    }

    /// The line and column of a byte offset.
    pub(super) fn position(&self, offset: usize) -> Position {
        self.lines.position(offset)
    }

    /// The line index of the input (for script line numbers).
    pub(super) fn lines(&self) -> &LineIndex<'a> {
        &self.lines
    }

    /// The input ended inside the element whose `<` is at `open_offset`.
    pub(super) fn truncated(&self, open_offset: usize) -> Fatal {
        let name: String = (self.input.get(open_offset + 1..).unwrap_or_default().chars())
            .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | '/'))
            .collect();
        let opened = self.lines.position(open_offset);
        let message = format!(
            "XML error: the file ends inside element `{name}` (opened at {opened}); \
             the file may be truncated"
        );
        Fatal::new(self.input.len(), message)
    }

    /// The input ended without a root element.
    pub(super) fn no_root(&self) -> Fatal {
        let message = if self.input.trim().is_empty() {
            "not a BPMN 2.0 file: the file is empty"
        } else {
            "not a BPMN 2.0 file: there is no root element"
        };
        Fatal::new(self.input.len(), message)
    }

    /// The offset of the `<` of the tag just read, which starts where the
    /// previous event ended (text is always reported, so nothing lies between).
    fn tag_offset(&self, before: usize) -> usize {
        let rest = self.input.as_bytes().get(before..).unwrap_or_default();
        before + rest.iter().position(|&b| b == b'<').unwrap_or(0)
    }
}

/// `part` as the slice of `input` it is, if it is one (what the unstable
/// `str::substr_range` finds): an attribute value decoded without references
/// borrows the input.
fn within<'a>(input: &'a str, part: &str) -> Option<&'a str> {
    let start = (part.as_ptr() as usize).checked_sub(input.as_ptr() as usize)?;
    input.get(start..start.checked_add(part.len())?)
}

/// Resolves `&name;` or `&#N;`; anything but the five XML entities and
/// character references is an error, as there is no DTD to declare more.
fn reference(r: &BytesRef<'_>, offset: usize) -> Result<String, Fatal> {
    let bad = |detail: String| Fatal::new(offset, format!("XML error: {detail}"));
    let name = r.decode().map_err(|e| xml_error(&e.into(), offset))?;
    match r.resolve_char_ref() {
        Ok(Some(c)) => Ok(c.to_string()),
        Ok(None) => match quick_xml::escape::resolve_xml_entity(&name) {
            Some(s) => Ok(s.to_owned()),
            None => Err(bad(unknown_entity(&name))),
        },
        Err(e) => Err(bad(format!("invalid character reference `&{name};`: {e}"))),
    }
}

fn xml_error(e: &quick_xml::Error, offset: usize) -> Fatal {
    let hint = match e {
        quick_xml::Error::Syntax(_) => "; the file may be truncated",
        _ => "",
    };
    Fatal::new(offset, format!("XML error: {e}{hint}"))
}

fn unknown_entity(name: &str) -> String {
    format!(
        "unknown entity `&{name};` (XML defines only &lt; &gt; &amp; &apos; &quot; \
         and character references such as &#160;)"
    )
}

fn offset(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}
