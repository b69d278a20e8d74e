//! How a page's data crosses from the server to the browser: one JSON
//! decoding for everything, so the wasm holds one deserializer per type.
//!
//! Server functions decode their answers with `serde_json::from_slice`;
//! Leptos decodes island props (and resources read in the browser) with
//! `serde_json::from_str`. The two read through different reader types,
//! so a model read both ways was compiled into the wasm twice (a
//! `SpaceGrid` cost ~13 KB each time). Island props wrapped in [`Prop`],
//! resources made here and the live streams ([`from_json`]) all decode
//! with `from_slice`, sharing the server functions' code.
//!
//! The pages' resources are read on the server only (the pages are not
//! hydrated, only their islands); [`Json`] keeps them decoding the same
//! way should one ever be read inside an island.

use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A resource whose value travels as JSON, read as server fns read theirs.
pub type Resource<T> = leptos::prelude::Resource<T, Json>;

/// JSON, decoded from bytes (see the module's comment).
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, Self::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, Self::Error> {
        from_json(text)
    }
}

/// Reads a JSON value the way server fns read their answers.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_slice(text.as_bytes())
}

/// An island's prop. Leptos reads an island's props with
/// `serde_json::from_str`; a prop wrapped in `Prop` travels inside them as
/// JSON text and is read with [`from_json`], so a model that is both a
/// prop and a server function's answer (the settings an island starts
/// from and fetches again) has one deserializer in the wasm, not two.
#[derive(Clone, Debug, PartialEq)]
pub struct Prop<T>(pub T);

impl<T: Serialize> Serialize for Prop<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(&self.0).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Prop<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        from_json(&text).map(Prop).map_err(serde::de::Error::custom)
    }
}

/// A resource: loaded on the server with the page, again whenever
/// `source` changes (`Resource::new`, with [`Json`]).
/// A blocking one (the page's HTML waits for it) is
/// `Resource::new_with_options(source, fetcher, true)`.
#[track_caller]
pub fn resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync + Clone + PartialEq + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Slot {
        start: String,
        free: bool,
    }

    #[test]
    fn what_is_encoded_decodes_to_the_same_value() {
        let slot = Slot {
            start: "09:00 \"Room 1\" ü".into(),
            free: true,
        };
        let text = <Json as Encoder<Slot>>::encode(&slot).unwrap();
        assert_eq!(<Json as Decoder<Slot>>::decode(&text).unwrap(), slot);
    }

    #[test]
    fn a_prop_travels_as_json_text_and_reads_back() {
        let slot = Prop(Slot {
            start: "09:00 \"Room 1\"".into(),
            free: false,
        });
        let text = serde_json::to_string(&slot).unwrap();
        // A JSON string holding the JSON of the slot.
        let inner: String = serde_json::from_str(&text).unwrap();
        assert_eq!(from_json::<Slot>(&inner).unwrap(), slot.0);
        assert_eq!(serde_json::from_str::<Prop<Slot>>(&text).unwrap(), slot);
        assert!(serde_json::from_str::<Prop<Slot>>("\"{\\\"start\\\": 1}\"").is_err());
    }

    #[test]
    fn bad_json_is_an_error_not_a_panic() {
        assert!(<Json as Decoder<Slot>>::decode("{\"start\": 1}").is_err());
        assert!(from_json::<Slot>("not json").is_err());
    }
}
