/// Where a payment provider plugs in: asked once for every gift before it is accepted.
///
/// The room calls `authorize` synchronously inside `handle`, so an implementation must answer from state it already
/// has: typically the server charges (or reserves) asynchronously *before* handing the request to the room and passes
/// the provider's receipt in `GiftPurchase.receipt`, and the hook checks it. Declining makes the request fail with
/// `payment_declined` and records nothing. The default, `AcceptAllGifts`, accepts everything (no payments).
public protocol GiftPaymentHook: Sendable {
    func authorize(_ purchase: GiftPurchase) -> GiftAuthorization
}

/// What the payment hook is asked about.
public struct GiftPurchase: Sendable, Hashable {
    public var sub: String
    public var item: GiftItem
    public var count: Int
    /// An opaque receipt the client or server attached (`gift.send`'s `receipt` field).
    public var receipt: String?
    public var at: Timestamp
}

/// The payment hook's answer.
public enum GiftAuthorization: Sendable, Hashable {
    case accepted
    case declined(reason: String)
}

/// The default hook: every gift is free and accepted.
public struct AcceptAllGifts: GiftPaymentHook {
    public init() {}
    public func authorize(_ purchase: GiftPurchase) -> GiftAuthorization { .accepted }
}
