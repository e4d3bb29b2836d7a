import Synchronization

/// Counts open connections, in total and per client address, against `HTTPLimits` (or any pair of caps), and says
/// whether a new one may open. One ledger per listening port; every admitted connection is released exactly once.
public final class ConnectionLedger: Sendable {
    public enum Admission: Sendable, Equatable {
        case admitted
        /// The server as a whole is at its cap.
        case serverFull
        /// This address is at its cap.
        case addressFull
    }

    public let maxTotal: Int
    /// 0: no per-address cap.
    public let maxPerAddress: Int
    private let state = Mutex<(total: Int, perAddress: [String: Int])>((0, [:]))

    public init(maxTotal: Int, maxPerAddress: Int) {
        self.maxTotal = max(1, maxTotal)
        self.maxPerAddress = max(0, maxPerAddress)
    }

    /// Takes a slot for a connection from `address` (the IP alone, no port), or says which cap refuses it.
    public func admit(_ address: String) -> Admission {
        state.withLock { state in
            guard state.total < maxTotal else { return .serverFull }
            let mine = state.perAddress[address, default: 0]
            if maxPerAddress > 0, mine >= maxPerAddress { return .addressFull }
            state.total += 1
            state.perAddress[address] = mine + 1
            return .admitted
        }
    }

    /// Gives back the slot `admit` took. Addresses with no open connection leave the table.
    public func release(_ address: String) {
        state.withLock { state in
            guard let mine = state.perAddress[address] else { return }
            state.total -= 1
            state.perAddress[address] = mine > 1 ? mine - 1 : nil
        }
    }

    public var total: Int { state.withLock { $0.total } }
    public func count(for address: String) -> Int { state.withLock { $0.perAddress[address, default: 0] } }
    /// Addresses with at least one open connection (the table never holds more).
    public var addresses: Int { state.withLock { $0.perAddress.count } }
}
