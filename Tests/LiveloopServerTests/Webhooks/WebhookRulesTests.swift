import Foundation
@testable import LiveloopServer
import Testing

/// The pure parts of webhooks: the signature, the retry schedule, which URLs may be sent to.
@Suite("webhook rules")
struct WebhookRulesTests {
    let body = Data(#"{"type":"webhook.ping"}"#.utf8)
    let secret = "whsec_test_secret_123"

    @Test("the signature is HMAC-SHA256 of \"t.body\", as Python's hmac module computes it")
    func signatureVector() {
        // python3 -c 'import hmac,hashlib; print(hmac.new(b"whsec_test_secret_123",
        //   b"1700000000.{\"type\":\"webhook.ping\"}", hashlib.sha256).hexdigest())'
        #expect(WebhookSignature.header(body: body, secret: secret, timestamp: 1_700_000_000)
            == "t=1700000000,v1=793bd02d1c529290f44703444d8295a91c76571c30fb51ef28be02b860075722")
    }

    @Test("a receiver's check accepts a fresh signature and refuses a changed body, another secret or an old timestamp")
    func verification() {
        let header = WebhookSignature.header(body: body, secret: secret, timestamp: 1_700_000_000)
        #expect(WebhookSignature.verify(header: header, body: body, secret: secret, now: 1_700_000_100))
        #expect(!WebhookSignature.verify(header: header, body: Data(#"{"type":"webhook.pong"}"#.utf8), secret: secret, now: 1_700_000_100))
        #expect(!WebhookSignature.verify(header: header, body: body, secret: "whsec_another_secret", now: 1_700_000_100))
        #expect(!WebhookSignature.verify(header: header, body: body, secret: secret, now: 1_700_000_000 + 301), "a replay after 5 minutes")
        #expect(!WebhookSignature.verify(header: "v1=00", body: body, secret: secret, now: 1_700_000_000))
    }

    @Test("retries double from the base, stay within the jitter, stop after the last attempt; the defaults span about an hour")
    func backoff() throws {
        let policy = WebhookRetryPolicy()
        #expect(policy.delay(afterFailedAttempts: 1, random: 0.5) == .seconds(30))
        #expect(policy.delay(afterFailedAttempts: 2, random: 0.5) == .seconds(60))
        #expect(policy.delay(afterFailedAttempts: 3, random: 0) == .seconds(96), "120 s less 20 %")
        #expect(policy.delay(afterFailedAttempts: 3, random: 1) == .seconds(144), "120 s plus 20 %")
        #expect(policy.delay(afterFailedAttempts: 8, random: 0.5) == nil, "eight attempts, then failed")
        let total = try (1..<8).reduce(0.0) { sum, attempt in
            sum + (try #require(policy.delay(afterFailedAttempts: attempt, random: 0.5))).asSeconds
        }
        #expect(total > 3000 && total < 4200, "the seven waits add up to about an hour: \(total) s")
        let capped = WebhookRetryPolicy(maxAttempts: 20, base: .seconds(30), cap: .seconds(600), jitter: 0)
        #expect(capped.delay(afterFailedAttempts: 15, random: 0.5) == .seconds(600))
    }

    @Test("URLs that are refused, with or without private addresses allowed", arguments: [
        ("ftp://example.com/hook", false), ("example.com/hook", false), ("http://", false), ("http://user:pw@example.com/", false),
        ("http://127.0.0.1:9000/hook", true), ("http://localhost.localdomain/", nil), ("http://10.1.2.3/", true),
        ("http://172.20.0.1/", true), ("http://192.168.1.1/", true), ("http://169.254.169.254/latest/meta-data", true),
        ("http://100.64.0.1/", true), ("http://0.0.0.0/", true), ("http://[::1]/", true), ("http://[fd00::1]/", true),
        ("http://[fe80::1]/", true), ("http://[::ffff:127.0.0.1]/", true), ("http://[::ffff:10.0.0.1]/", true),
        ("http://224.0.0.1/", true),
    ] as [(String, Bool?)])
    func refusedURLs(url: String, privateOnly: Bool?) {
        let strict = WebhookURLPolicy(allowPrivateAddresses: false)
        let open = WebhookURLPolicy(allowPrivateAddresses: true)
        if privateOnly == nil {
            // A name: judged when it resolves, before each attempt.
            #expect((try? strict.check(url)) != nil)
            return
        }
        #expect((try? strict.check(url)) == nil, "\(url) is refused by default")
        #expect(((try? open.check(url)) != nil) == privateOnly, "\(url) with --webhook-allow-private")
    }

    @Test("public addresses and names pass", arguments: [
        "https://hooks.example.com/liveloop", "http://93.184.216.34:8080/x?y=1", "https://[2606:4700::1111]/hook",
    ])
    func acceptedURLs(url: String) {
        #expect((try? WebhookURLPolicy(allowPrivateAddresses: false).check(url)) != nil)
    }

    @Test("resolved addresses: one internal address among public ones is enough to refuse")
    func resolved() throws {
        let strict = WebhookURLPolicy(allowPrivateAddresses: false)
        let public1 = try #require(IPAddress("93.184.216.34"))
        let privateOne = try #require(IPAddress("10.0.0.7"))
        #expect((try? strict.check(resolved: [public1], host: "a.example")) != nil)
        #expect((try? strict.check(resolved: [public1, privateOne], host: "a.example")) == nil)
    }
}
