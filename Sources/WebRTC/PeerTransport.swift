import Foundation
import NIOCore

/// What a session on the shared UDP port asks its shell to do.
public enum PeerAction: Sendable, Equatable {
    case send([UInt8], to: SocketAddress)
    /// The peer's address is (now) this one: route its datagrams here.
    case bind(SocketAddress)
    /// DTLS completed: media may flow.
    case connected
    /// A viewer asked for a keyframe (PLI or FIR).
    case keyframeRequested
    /// A publisher's RTP or RTCP packet, decrypted, for the shell to hand on.
    case media(ReceivedPacket)
    case log(String)
    case close(String)
}

/// A decrypted packet from a publisher, with the track it belongs to (told apart by payload type or SSRC).
public struct ReceivedPacket: Sendable, Equatable {
    public enum Track: Sendable, Equatable {
        case video
        case audio
    }

    public var track: Track
    public var isRTCP: Bool
    public var bytes: [UInt8]
}

/// One peer's ICE-lite and DTLS-SRTP on the shared UDP port, whichever way media flows (a WHEP viewer or a WHIP
/// publisher): the session that owns it adds the media.
///
/// Rules:
/// - a STUN request counts only if its USERNAME is `ours:theirs`, its MESSAGE-INTEGRITY checks with our password and
///   its FINGERPRINT is right; the first such request binds the peer's address, a later one with USE-CANDIDATE moves
///   it (RFC 8445 §7.3.1.5); only datagrams from the bound address reach DTLS and SRTP (the shell demultiplexes);
/// - ICE and DTLS must complete within ``setupTimeout``; a connected peer that sends nothing valid (STUN, SRTP or
///   SRTCP) for ``consentTimeout`` is dropped (RFC 7675 consent freshness);
/// - garbage affects this peer only, and each kind is logged once.
///
/// Not thread-safe: it lives on the socket's event loop; time is an argument.
public final class PeerTransport {
    public enum State: Sendable, Equatable {
        case waitingForICE
        case handshaking
        case connected
        case closed(String)
    }

    public static let setupTimeout: TimeAmount = .seconds(10)
    public static let consentTimeout: TimeAmount = .seconds(30)

    public let localUfrag: String
    public let localPassword: String
    public let remoteUfrag: String
    public private(set) var state: State = .waitingForICE
    public private(set) var peer: SocketAddress?
    /// What we protect with (the DTLS server's keys) and check the peer's packets with (the client's), once connected.
    private(set) var outbound: SRTPContext?
    private var inbound: SRTPContext?
    private let dtls: DTLSEndpoint
    private let createdAt: NIODeadline
    private var lastHeard: NIODeadline
    private var logged: Set<String> = []

    public init(localUfrag: String, localPassword: String, remoteUfrag: String, dtls: DTLSEndpoint, now: NIODeadline) {
        self.localUfrag = localUfrag
        self.localPassword = localPassword
        self.remoteUfrag = remoteUfrag
        self.dtls = dtls
        createdAt = now
        lastHeard = now
    }

    public var isConnected: Bool { state == .connected }
    public var isClosed: Bool { if case .closed = state { true } else { false } }

    /// A STUN message whose USERNAME starts with our ufrag (the shell routes by it), from any address.
    public func receive(stun message: STUNMessage, from address: SocketAddress, now: NIODeadline) -> [PeerAction] {
        guard !isClosed else { return [] }
        // Indications (keepalives) and responses need no answer.
        guard message.type == STUNMessage.bindingRequest else { return [] }
        guard message.username == "\(localUfrag):\(remoteUfrag)",
              message.hasValidIntegrity(key: Array(localPassword.utf8)), message.hasValidFingerprint else {
            return once("stun", "a STUN request with a wrong username, integrity or fingerprint was ignored")
        }
        guard let (addressBytes, port) = Self.bytes(of: address) else { return [] }
        lastHeard = now
        var actions: [PeerAction] = []
        let nominated = message.attribute(STUNMessage.AttributeType.useCandidate) != nil
        if peer == nil || (nominated && peer != address) {
            peer = address
            actions.append(.bind(address))
            if state == .waitingForICE { state = .handshaking }
        }
        let response = STUNMessage(type: STUNMessage.bindingSuccess, transactionID: message.transactionID, attributes: [
            .init(type: STUNMessage.AttributeType.xorMappedAddress,
                  value: STUNMessage.xorMappedAddress(address: addressBytes, port: port, transactionID: message.transactionID)),
        ])
        actions.append(.send(response.encoded(integrityKey: Array(localPassword.utf8), fingerprint: true), to: address))
        return actions
    }

    /// A DTLS datagram (first byte 20–63, RFC 7983) from the bound address.
    func receive(dtls datagram: [UInt8], from address: SocketAddress, now: NIODeadline) -> [PeerAction] {
        let output = dtls.receive(datagram)
        var actions = output.datagrams.map { PeerAction.send($0, to: address) }
        switch output.event {
        case let .connected(keys):
            actions += connected(keys: keys, now: now)
        case let .failed(reason):
            actions.append(.close("DTLS failed: \(reason)"))
        case .closed:
            actions.append(.close("the peer closed DTLS"))
        case nil:
            break
        }
        return actions
    }

    /// DTLS completed with these keys: we protect with the server's, check the peer's with the client's.
    func connected(keys: SRTPKeyingMaterial, now: NIODeadline) -> [PeerAction] {
        outbound = SRTPContext(masterKey: keys.serverKey, masterSalt: keys.serverSalt)
        inbound = SRTPContext(masterKey: keys.clientKey, masterSalt: keys.clientSalt)
        state = .connected
        lastHeard = now
        return [.connected]
    }

    /// The peer's SRTCP, checked and decrypted; nil (logged once) when it does not authenticate or before DTLS.
    func unprotectRTCP(_ datagram: [UInt8], now: NIODeadline) -> (plain: [UInt8]?, log: [PeerAction]) {
        guard var context = inbound else { return (nil, []) }
        do {
            let plain = try context.unprotectRTCP(datagram)
            inbound = context
            lastHeard = now
            return (plain, [])
        } catch {
            return (nil, once("srtcp", "an SRTCP packet that did not authenticate (\(error)) was ignored"))
        }
    }

    /// The peer's SRTP, checked and decrypted; nil (logged once) when it does not authenticate or before DTLS.
    func unprotectRTP(_ datagram: [UInt8], now: NIODeadline) -> (plain: [UInt8]?, log: [PeerAction]) {
        guard var context = inbound else { return (nil, []) }
        do {
            let plain = try context.unprotectRTP(datagram)
            inbound = context
            lastHeard = now
            return (plain, [])
        } catch {
            return (nil, once("srtp", "an SRTP packet that did not authenticate (\(error)) was ignored"))
        }
    }

    /// Protects RTCP of ours with the next SRTCP index.
    private var rtcpIndex: UInt32 = 0
    func protectRTCP(_ packet: [UInt8]) -> [UInt8]? {
        guard let outbound else { return nil }
        defer { rtcpIndex = (rtcpIndex + 1) & 0x7FFF_FFFF }
        return outbound.protectRTCP(packet, index: rtcpIndex)
    }

    /// DTLS retransmissions and the setup and consent deadlines: a close action when one passed.
    func tick(now: NIODeadline) -> [PeerAction] {
        guard !isClosed else { return [] }
        if state != .connected {
            if now - createdAt > Self.setupTimeout {
                return [.close("ICE and DTLS did not complete within \(Self.setupTimeout.seconds) s")]
            }
            guard let peer else { return [] }
            return dtls.handleTimeout().map { .send($0, to: peer) }
        }
        if now - lastHeard > Self.consentTimeout {
            return [.close("no STUN consent nor RTP/RTCP for \(Self.consentTimeout.seconds) s")]
        }
        return []
    }

    /// Marks the transport closed; the session sends its BYE before.
    func markClosed(_ reason: String) {
        state = .closed(reason)
    }

    func once(_ kind: String, _ line: String) -> [PeerAction] {
        guard logged.insert(kind).inserted else { return [] }
        return [.log(line)]
    }

    /// The address bytes and port of an IPv4 or IPv6 socket address, read from its `sockaddr_in`/`sockaddr_in6`
    /// (family, port, then the address: at offset 4 for IPv4, 8 for IPv6).
    static func bytes(of address: SocketAddress) -> ([UInt8], UInt16)? {
        let (offset, length): (Int, Int)
        switch address {
        case .v4: (offset, length) = (4, 4)
        case .v6: (offset, length) = (8, 16)
        case .unixDomainSocket: return nil
        }
        guard let port = address.port, let port = UInt16(exactly: port) else { return nil }
        let bytes = address.withSockAddr { pointer, size -> [UInt8]? in
            guard size >= offset + length else { return nil }
            let raw = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: size)
            return Array(raw[offset..<offset + length])
        }
        return bytes.map { ($0, port) }
    }
}

/// A session on the shared UDP port (a WHEP viewer, a WHIP publisher): the hub routes datagrams and ticks to it.
public protocol PeerSession: AnyObject {
    var id: String { get }
    var channel: String { get }
    var transport: PeerTransport { get }
    func receive(datagram: [UInt8], from address: SocketAddress, now: NIODeadline) -> [PeerAction]
    func close(_ reason: String) -> [PeerAction]
}

extension PeerSession {
    public var localUfrag: String { transport.localUfrag }
    public var peer: SocketAddress? { transport.peer }
    public var state: PeerTransport.State { transport.state }
    public var isConnected: Bool { transport.isConnected }
    public var isClosed: Bool { transport.isClosed }

    public func receive(stun message: STUNMessage, from address: SocketAddress, now: NIODeadline) -> [PeerAction] {
        transport.receive(stun: message, from: address, now: now)
    }

    /// The transport's own closes (DTLS failed, a deadline) become the session's, which says goodbye first.
    func closing(_ actions: [PeerAction]) -> [PeerAction] {
        guard let reason = actions.lazy.compactMap({ action -> String? in
            if case let .close(reason) = action { reason } else { nil }
        }).first else { return actions }
        return actions.filter { if case .close = $0 { false } else { true } } + close(reason)
    }
}

extension TimeAmount {
    var seconds: Int64 { nanoseconds / 1_000_000_000 }
}
