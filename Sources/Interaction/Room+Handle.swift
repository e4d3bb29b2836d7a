import OrderedCollections

extension Room {
    /// Handles one client request from `identity` at `now`.
    ///
    /// Checks the request against `Admission` (role, anonymous access, bans, timeouts) and the message's own rules,
    /// then records and applies it. A refused request yields only an `error` reply and changes nothing but the
    /// rate-limit token it may have used; an accepted one yields its records, an `ack` (or `pong`) when the request
    /// had an `id`, and its broadcasts.
    public mutating func handle(_ request: ClientRequest, from identity: Identity, at now: Timestamp,
                                context: RequestTiming = RequestTiming()) -> RoomUpdate {
        var effects = Effects()
        if request.message.kind.requiredRole == .host { effects.cue = context.cue }
        do {
            try authorize(request.message.kind, for: identity, at: now)
            try perform(request.message, from: identity, at: now, context: context, into: &effects)
        } catch {
            return RoomUpdate(reply: ServerEnvelope(id: request.id, .error(.init(error))))
        }
        let reply: ServerEnvelope?
        if case .ping(let ping) = request.message {
            reply = ServerEnvelope(id: request.id, .pong(.init(serverTime: now, clientTime: ping.clientTime)))
        } else {
            reply = request.id.map { ServerEnvelope(id: $0, .ack(.init(ref: effects.ref, responseMs: effects.responseMs))) }
        }
        return RoomUpdate(reply: reply, broadcasts: effects.broadcasts, records: effects.records)
    }

    /// Handles a message without a request id (convenience for servers and tests).
    public mutating func handle(_ message: ClientMessage, from identity: Identity, at now: Timestamp,
                                context: RequestTiming = RequestTiming()) -> RoomUpdate {
        handle(ClientRequest(message), from: identity, at: now, context: context)
    }

    /// Whether `identity` may send a message of `kind` at `now` at all (`Admission`).
    public func authorize(_ kind: ClientMessage.Kind, for identity: Identity, at now: Timestamp) throws(InteractionError) {
        try admission.check(kind, for: identity, at: now)
    }

    private mutating func perform(_ message: ClientMessage, from identity: Identity, at now: Timestamp,
                                  context: RequestTiming, into effects: inout Effects) throws(InteractionError) {
        let by = identity.sub
        switch message {
        case .ping, .sync:
            return
        case .reaction(let reaction):
            try charge(\.reactions, for: by, at: now, into: &effects)
            try reactions.add(reaction.emoji)
        case .chatSend(let send):
            try sendChat(send.text, from: identity, at: now, into: &effects)
        case .chatDelete(let delete):
            guard let entry = chat.entry(delete.messageID) else { throw .notFound("message", delete.messageID) }
            guard identity.role.isStaff || entry.message.sub == by else {
                throw InteractionError(.forbidden, "you may delete only your own messages")
            }
            try commit(.chatDeleted(messageID: delete.messageID, by: by, at: now), into: &effects)
            emit(.chatDeleted(.init(messageIDs: [delete.messageID])),
                 to: entry.shadow ? .only(entry.message.sub) : .everyone, into: &effects)
        case .pollVote(let vote):
            guard let choices = Choices(indices: vote.choices) else {
                throw InteractionError(.unknownOption, "no such option on poll \(vote.pollID)")
            }
            try charge(\.votes, for: by, at: now, into: &effects)
            try PollRules(try poll(vote.pollID), grace: pollGrace(vote.pollID)).judge(choices, at: now)
            try commit(.vote(pollID: vote.pollID, sub: by, choices: choices, at: now), into: &effects)
        case .quizAnswer(let answer):
            try answerQuiz(answer, from: identity, at: now, context: context, into: &effects)
        case .qaAsk(let ask):
            try askQuestion(ask.text, from: identity, at: now, into: &effects)
        case .qaUpvote(let target):
            try charge(\.upvotes, for: by, at: now, into: &effects)
            try commit(.questionUpvoted(questionID: target.questionID, sub: by, at: now), into: &effects)
            questionVotesChanged.insert(target.questionID)
        case .giftSend(let send):
            try sendGift(send, from: identity, at: now, into: &effects)
        case .offerClick(let target):
            try Self.checkClickMediaTime(target.mediaTime)
            try charge(\.clicks, for: by, at: now, into: &effects)
            try commit(.offerClicked(offerID: target.offerID, sub: by, at: now, mediaTime: target.mediaTime), into: &effects)
            offerClicksChanged.insert(target.offerID)
        case .sponsorClick(let click):
            try Self.checkClickMediaTime(click.mediaTime)
            try charge(\.clicks, for: by, at: now, into: &effects)
            _ = try sponsor(of: click.interaction, onScreen: true)
            try commit(.sponsorClicked(interaction: click.interaction, sub: by, at: now, mediaTime: click.mediaTime),
                       into: &effects)
            sponsorClicksChanged.insert(click.interaction)
        case .qaModerate(let action, let target):
            let wasPublic = qanda.question(target.questionID)?.status.isPublic ?? false
            try commit(.questionModerated(questionID: target.questionID, action: action, by: by, at: now), into: &effects)
            if let question = qanda.question(target.questionID) {
                let audience: RoomBroadcast.Audience = wasPublic || question.status.isPublic ? .everyone : .staffAnd(question.sub)
                emit(.question(question), to: audience, into: &effects)
            }
        case .modTimeout(let timeout):
            try checkOutranks(identity, timeout.sub)
            guard (1...604_800).contains(timeout.seconds) else { throw .badRequest("seconds must be 1 to 604800") }
            let until = now + .seconds(timeout.seconds)
            try commit(.moderation(action: .timeout(sub: timeout.sub, until: until), by: by, at: now, role: identity.role),
                       into: &effects)
            emit(.moderation(.init(action: .timeout, until: until)), to: .only(timeout.sub), into: &effects)
        case .modBan(let target):
            try checkOutranks(identity, target.sub)
            guard !moderation.isBanned(target.sub) else { throw .invalidState("\(target.sub) is already banned") }
            let purged = configuration.purgesMessagesOnBan
                ? chat.history.filter { $0.message.sub == target.sub }.map(\.message.messageID) : []
            try commit(.moderation(action: .ban(sub: target.sub), by: by, at: now, role: identity.role), into: &effects)
            emit(.moderation(.init(action: .ban, until: nil)), to: .only(target.sub), into: &effects)
            if !purged.isEmpty { emit(.chatDeleted(.init(messageIDs: purged)), to: .everyone, into: &effects) }
        case .modUnban(let target):
            guard moderation.isBanned(target.sub) || moderation.isTimedOut(target.sub, at: now) else {
                throw .notFound("ban or timeout of", target.sub)
            }
            try commit(.moderation(action: .unban(sub: target.sub), by: by, at: now, role: identity.role), into: &effects)
            emit(.moderation(.init(action: .unban, until: nil)), to: .only(target.sub), into: &effects)
        case .modShadowBan(let shadow):
            try checkOutranks(identity, shadow.sub)
            try commit(.moderation(action: .shadowBan(sub: shadow.sub, enabled: shadow.enabled ?? true), by: by, at: now,
                                   role: identity.role), into: &effects)
        case .chatSlowMode(let slow):
            guard (0...3_600).contains(slow.seconds) else { throw .badRequest("seconds must be 0 to 3600") }
            try commit(.chatSettingsChanged(slowModeSeconds: slow.seconds, filterWords: nil, by: by, at: now), into: &effects)
            emit(.chatSettings(.init(slowModeSeconds: slow.seconds)), to: .everyone, into: &effects)
        case .chatFilter(let filter):
            guard filter.words.count <= 1_000, filter.words.allSatisfy({ $0.count <= 64 }) else {
                throw .badRequest("at most 1000 words of at most 64 characters")
            }
            try commit(.chatSettingsChanged(slowModeSeconds: nil, filterWords: filter.words, by: by, at: now), into: &effects)
        case .pollCreate, .pollLaunch, .pollClose, .pollReveal, .quizCreate, .quizNext, .quizClose, .quizReveal, .quizEnd:
            try performHostInteraction(message, from: identity, at: now, into: &effects)
        case .offerShow(let show):
            try show.offer.validate(at: now)
            try commit(.offerShown(offer: show.offer, at: now), into: &effects)
            emit(.offer(show.offer), to: .everyone, into: &effects)
            effects.ref = show.offer.offerID
        case .offerHide(let target):
            try commit(.offerHidden(offerID: target.offerID, at: now), into: &effects)
            emit(.offerHidden(target), to: .everyone, into: &effects)
        }
    }

    /// A click's `mediaTime`, when it has one, is a playhead: 0 to 10⁹ seconds.
    private static func checkClickMediaTime(_ mediaTime: Double?) throws(InteractionError) {
        if let mediaTime, !(mediaTime.isFinite && (0...1e9).contains(mediaTime)) {
            throw .badRequest("mediaTime must be 0 to 1000000000 seconds")
        }
    }

    /// Moderation reaches only users below the actor's role, as far as the room knows them (they joined, or their
    /// acts are in the records; the admin key's `sub` always counts as a host). Holds on users it does not know are
    /// judged against their token's role when they act (`Moderation`).
    private func checkOutranks(_ actor: Identity, _ sub: String) throws(InteractionError) {
        if let role = staffRoles[sub], role >= actor.role {
            throw InteractionError(.forbidden, "a \(actor.role.rawValue) cannot moderate a \(role.rawValue)")
        }
    }

    private mutating func sendChat(_ raw: String, from identity: Identity, at now: Timestamp,
                                   into effects: inout Effects) throws(InteractionError) {
        let text = raw.trimmingWhitespace
        guard !text.isEmpty else { throw .badRequest("empty message") }
        guard text.count <= configuration.maxMessageLength else {
            throw InteractionError(.tooLarge, "messages are at most \(configuration.maxMessageLength) characters")
        }
        try charge(\.chat, for: identity.sub, at: now, into: &effects)
        if !identity.role.isStaff {
            try chat.checkSlowMode(for: identity.sub, at: now)
            if chat.filter.matches(text) { throw InteractionError(.filtered, "your message contains a blocked word") }
        }
        let message = ChatMessage(messageID: ids.next("m"), sub: identity.sub, name: identity.name, role: identity.role,
                                  text: text, at: now)
        let shadow = moderation.isShadowBanned(identity)
        try commit(.chatPosted(message: message, shadow: shadow), into: &effects)
        emit(.chat(message), to: shadow ? .only(identity.sub) : .everyone, into: &effects)
        effects.ref = message.messageID
    }

    private mutating func answerQuiz(_ answer: ClientMessage.QuizAnswer, from identity: Identity, at now: Timestamp,
                                     context: RequestTiming, into effects: inout Effects) throws(InteractionError) {
        let quiz = try quiz(answer.quizID)
        guard let choices = Choices(indices: answer.choices) else {
            throw InteractionError(.unknownOption, "no such option on question \(answer.question)")
        }
        let bound = min(max(context.maxDisplayLatency, .zero), configuration.maxDisplayLatency)
        var claim = answer.shownAt
        if claim == nil, let latency = answer.displayLatencyMs, let shownAt = quiz.shownAt {
            claim = shownAt + .milliseconds(latency)
        }
        guard quiz.currentIndex == answer.question,
              let responseTime = quiz.responseTime(claimedShownAt: claim, maxDisplayLatency: bound,
                                                     at: now + (.zero - max(context.transit, .zero))) else {
            throw InteractionError(.answerClosed, "question \(answer.question) of quiz \(answer.quizID) is not open")
        }
        try commit(.quizAnswer(quizID: answer.quizID, index: answer.question, sub: identity.sub, name: identity.name,
                               choices: choices, responseMilliseconds: responseTime.wholeMilliseconds, at: now),
                   into: &effects)
        effects.responseMs = responseTime.wholeMilliseconds
    }

    private mutating func askQuestion(_ raw: String, from identity: Identity, at now: Timestamp,
                                      into effects: inout Effects) throws(InteractionError) {
        let text = raw.trimmingWhitespace
        guard !text.isEmpty else { throw .badRequest("empty question") }
        guard text.count <= configuration.maxQuestionLength else {
            throw InteractionError(.tooLarge, "questions are at most \(configuration.maxQuestionLength) characters")
        }
        try charge(\.questions, for: identity.sub, at: now, into: &effects)
        if !identity.role.isStaff && chat.filter.matches(text) {
            throw InteractionError(.filtered, "your question contains a blocked word")
        }
        // Shadow-banned askers always go through the queue: nobody but staff and themselves sees their questions.
        let queued = !identity.role.isStaff
            && (configuration.questionsNeedApproval || moderation.isShadowBanned(identity))
        let question = Question(questionID: ids.next("q"), sub: identity.sub, name: identity.name, text: text,
                                askedAt: now, status: queued ? .pending : .open)
        try commit(.questionAsked(question: question), into: &effects)
        emit(.question(question), to: queued ? .staffAnd(identity.sub) : .everyone, into: &effects)
        effects.ref = question.questionID
    }

    private mutating func sendGift(_ send: ClientMessage.GiftSend, from identity: Identity, at now: Timestamp,
                                   into effects: inout Effects) throws(InteractionError) {
        let count = send.count ?? 1
        guard (1...max(configuration.maxGiftCount, 1)).contains(count) else {
            throw .badRequest("count must be 1 to \(configuration.maxGiftCount)")
        }
        let item = try gifts.item(send.giftID)
        try charge(\.gifts, for: identity.sub, at: now, into: &effects)
        let purchase = GiftPurchase(sub: identity.sub, item: item, count: count, receipt: send.receipt, at: now)
        if case .declined(let reason) = paymentHook.authorize(purchase) {
            throw InteractionError(.paymentDeclined, reason)
        }
        let event = GiftEvent(giftEventID: ids.next("g"), sub: identity.sub, name: identity.name, giftID: item.giftID,
                              giftName: item.name, icon: item.icon, value: item.value, count: count,
                              text: GiftEvent.render(gifts.template, name: identity.name, item: item, count: count), at: now)
        try commit(.giftSent(event: event), into: &effects)
        emit(.gift(event), to: .everyone, into: &effects)
        supportersChanged = true
        effects.ref = event.giftEventID
    }
}

extension String {
    var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
