import HTTPTypes
import NIOCore

/// In front of TLS on the HTTP port: a client that sends a plain HTTP request (someone typed `http://`) gets one
/// unencrypted `400 https_required` JSON answer saying to use `https://`, instead of a TLS alert it cannot read.
/// Anything else, a TLS ClientHello above all, goes on to the TLS handler untouched; the first byte decides, and the
/// handler then removes itself.
final class PlainHTTPRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let onRefusal: @Sendable () -> Void
    private var refused = false

    init(onRefusal: @escaping @Sendable () -> Void = {}) {
        self.onRefusal = onRefusal
    }

    /// An HTTP/1 request starts with its method, in capital ASCII letters; a TLS record starts with its content type
    /// (22 for a handshake), never a letter.
    static func isPlainHTTP(_ first: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let bytes = unwrapInboundIn(data)
        guard let first = bytes.readableBytesView.first else { return }
        guard Self.isPlainHTTP(first) else {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        refused = true
        onRefusal()
        let error = APIError(.badRequest, code: "https_required",
                             message: "this port speaks HTTPS only: use an https:// (or wss://) URL")
        context.writeAndFlush(wrapOutboundOut(error.rawHTTPResponse())).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
