//! The typed layer: a [`Codec`] on top of any message `Stream`/`Sink`.

use core::fmt;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use serde::{de::DeserializeOwned, Serialize};

use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::message::Message;

/// A typed view of a message stream and/or sink: decodes received messages into `In` and
/// encodes `Out` values into messages with the codec `C`.
///
/// As a `Stream` it yields `Result<In, Error>`: a message that fails to decode is one `Err`
/// item, and the stream goes on. As a `Sink<Out>` it encodes, then sends through the inner sink.
///
/// ```no_run
/// # #[cfg(target_arch = "wasm32")]
/// # async fn demo() -> Result<(), resocket::Error> {
/// use futures::{SinkExt, StreamExt};
/// use resocket::{Connection, Json, Typed};
/// let conn = Connection::open("ws://127.0.0.1:8080/ws/echo")?;
/// let mut typed: Typed<Vec<u32>, Vec<u32>, Json, Connection> = Typed::new(conn, Json);
/// typed.send(vec![1, 2, 3]).await?;
/// assert_eq!(typed.next().await, Some(Ok(vec![1, 2, 3])));
/// # Ok(()) }
/// ```
pub struct Typed<In, Out, C, S> {
    inner: S,
    codec: C,
    _types: PhantomData<fn(Out) -> In>,
}

impl<In, Out, C: fmt::Debug, S: fmt::Debug> fmt::Debug for Typed<In, Out, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Typed")
            .field("inner", &self.inner)
            .field("codec", &self.codec)
            .finish()
    }
}

impl<In, Out, C, S> Typed<In, Out, C, S> {
    /// Wraps a message stream/sink with a codec.
    ///
    /// ```no_run
    /// # #[cfg(target_arch = "wasm32")]
    /// # fn demo(conn: resocket::Connection) {
    /// let typed: resocket::Typed<u32, u32, _, _> = resocket::Typed::new(conn, resocket::Json);
    /// # }
    /// ```
    pub fn new(inner: S, codec: C) -> Self {
        Typed {
            inner,
            codec,
            _types: PhantomData,
        }
    }

    /// The wrapped stream/sink.
    ///
    /// ```no_run
    /// # #[cfg(target_arch = "wasm32")]
    /// # fn demo(t: resocket::Typed<u32, u32, resocket::Json, resocket::Connection>) {
    /// println!("{}", t.get_ref().url());
    /// # }
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner stream/sink.
    ///
    /// ```no_run
    /// # #[cfg(target_arch = "wasm32")]
    /// # fn demo(t: resocket::Typed<u32, u32, resocket::Json, resocket::Connection>) {
    /// let conn: resocket::Connection = t.into_inner();
    /// # }
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
impl<In, Out, C: Clone> Typed<In, Out, C, crate::connection::Connection> {
    /// Splits into a cloneable typed sender and a typed receiver, for separate tasks.
    ///
    /// ```no_run
    /// # #[cfg(target_arch = "wasm32")]
    /// # fn demo(t: resocket::Typed<u32, String, resocket::Json, resocket::Connection>) {
    /// let (tx, rx) = t.split();
    /// # }
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn split(
        self,
    ) -> (
        Typed<In, Out, C, crate::connection::Sender>,
        Typed<In, Out, C, crate::connection::Receiver>,
    ) {
        let (tx, rx) = self.inner.split();
        (
            Typed::new(tx, self.codec.clone()),
            Typed::new(rx, self.codec),
        )
    }
}

impl<In, Out, C: Clone, S: Clone> Clone for Typed<In, Out, C, S> {
    fn clone(&self) -> Self {
        Typed::new(self.inner.clone(), self.codec.clone())
    }
}

impl<In, Out, C, S> Stream for Typed<In, Out, C, S>
where
    In: DeserializeOwned,
    C: Codec + Unpin,
    S: Stream<Item = Result<Message>> + Unpin,
{
    type Item = Result<In>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        Pin::new(&mut this.inner)
            .poll_next(cx)
            .map(|item| item.map(|r| r.and_then(|m| this.codec.decode(&m))))
    }
}

impl<In, Out, C, S> Sink<Out> for Typed<In, Out, C, S>
where
    Out: Serialize,
    C: Codec + Unpin,
    S: Sink<Message, Error = Error> + Unpin,
{
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.inner).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Out) -> Result<()> {
        let message = self.codec.encode(&item)?;
        Pin::new(&mut self.inner).start_send(message)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(all(test, feature = "json"))]
mod tests {
    use super::*;
    use crate::codec::Json;
    use alloc::vec::Vec;
    use futures::{executor::block_on, stream, SinkExt, StreamExt};

    #[test]
    fn decode_failure_is_one_err_item_and_the_stream_goes_on() {
        let source = stream::iter(vec![
            Ok(Message::from("1")),
            Ok(Message::from("{bad")),
            Ok(Message::from("3")),
        ]);
        let typed: Typed<u32, u32, Json, _> = Typed::new(source, Json);
        let items: Vec<_> = block_on(typed.collect());
        assert_eq!(items.len(), 3);
        assert_eq!(items[0], Ok(1));
        assert!(matches!(items[1], Err(Error::Decode { size: 4, .. })));
        assert_eq!(items[2], Ok(3));
    }

    #[test]
    fn sink_encodes_with_the_codec() {
        let (tx, mut rx) = futures::channel::mpsc::unbounded::<Message>();
        let sink = tx.sink_map_err(|_| Error::NotOpen);
        let mut typed: Typed<u32, Vec<u8>, Json, _> = Typed::new(sink, Json);
        block_on(typed.send(vec![1, 2])).unwrap();
        assert_eq!(block_on(rx.next()), Some(Message::from("[1,2]")));
    }
}
