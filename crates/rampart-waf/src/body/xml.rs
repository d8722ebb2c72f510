//! XML request bodies (with `quick-xml`): the text of all elements for `XML:/*` and attribute
//! values for `XML://@*`. Malformed XML or nesting past the limit is a body error.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::BodyError;
use crate::tx::data::TxData;

/// Parse `body` and fill `data.xml_text` / `data.xml_attributes`.
pub fn parse(body: &[u8], depth_limit: usize, data: &mut TxData) -> Result<(), BodyError> {
    let mut reader = Reader::from_reader(body);
    let mut text = Vec::new();
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| BodyError(format!("XML parsing error: {e}")))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let opens = matches!(event, Event::Start(_));
                seen_root = true;
                for attr in e.attributes().flatten() {
                    let name = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
                    let value = attr.unescape_value().map(|v| v.into_owned().into_bytes()).unwrap_or_else(|_| attr.value.to_vec());
                    data.xml_attributes.add(name, value);
                }
                depth += usize::from(opens);
                if depth > depth_limit {
                    return Err(BodyError(format!("XML nesting deeper than {depth_limit}")));
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) => {
                let raw = t.unescape().map(|c| c.into_owned().into_bytes()).unwrap_or_else(|_| t.to_vec());
                text.extend_from_slice(&raw);
            }
            Event::CData(c) => text.extend_from_slice(&c),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !seen_root {
        return Err(BodyError("XML parsing error: no root element".into()));
    }
    data.xml_text = Some(text);
    Ok(())
}
