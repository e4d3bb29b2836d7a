import NIOCore

/// WHEP playback settings (`--webrtc-*`): the one UDP port every session shares, the addresses put in the host
/// candidates, and the node's cap on viewers.
public struct WebRTCConfiguration: Sendable {
    /// UDP port for STUN, DTLS and SRTP of every session; 0 lets the system pick.
    public var port = 8189
    /// IP literals announced as host candidates (a public or NAT address). Empty: the listen address when it is a
    /// specific one, else every IPv4 address of this machine's interfaces.
    public var advertiseAddresses: [String] = []
    /// WebRTC viewers (sessions, connected or not) one node holds; one more is answered 503 `server_full`.
    public var maxViewers = 1000

    public init() {}

    /// The addresses a candidate may name when nothing was configured.
    static func defaultAddresses(listening host: String) -> [String] {
        if host != "0.0.0.0", host != "::", !host.isEmpty { return [host] }
        let devices = (try? System.enumerateDevices()) ?? []
        var addresses: [String] = []
        for device in devices {
            guard case .v4 = device.address, let ip = device.address?.ipAddress, !addresses.contains(ip) else { continue }
            addresses.append(ip)
        }
        // Non-loopback first: the address a remote viewer can reach is worth trying before 127.0.0.1.
        return addresses.filter { !$0.hasPrefix("127.") } + addresses.filter { $0.hasPrefix("127.") }
    }
}
