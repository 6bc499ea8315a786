import Dispatch
import Foundation
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// Issue 11, points 7, 8 and 18: bounded schedules and access evaluation, SQL texts that do not vary with
/// input, and the gateway status of a large organization.
@Suite("Evaluation and list limits", .sharingTheMachine)
struct EvaluationAndListLimitsTests {
    static func schedule(_ count: Int) -> String {
        let entry = #"{"dayOfWeek": "Monday", "period": {"startTime": "08:00:00", "endTime": "09:00:00"}}"#
        return "[" + Array(repeating: entry, count: count).joined(separator: ", ") + "]"
    }

    /// Counts the store's SQL texts, with no background round (the outbox's runs every 2 s) adding its own
    /// statements while a test counts.
    static func countingStatements(_ config: inout KeywayConfig) {
        config.recordStatements = true
        config.outboxInterval = .seconds(3600)
    }

    @Test func aScheduleOfTwentyNineEntriesIsRefusedNamingSchedule() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let before = try await harness.shareCount()
            let refused = try await client.send(
                .post, "/v2/shares", key: key,
                json: #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}, "schedule": "#
                    + Self.schedule(29) + "}")
            expectErrorBody(refused, status: .badRequest, mentioning: "schedule")
            #expect(try await harness.shareCount() == before)
            let id = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}, "schedule": "#
                    + Self.schedule(28) + "}", key: key)
            let update = try await client.send(
                .put, "/v2/shares/\(id)", key: key, json: #"{"schedule": "# + Self.schedule(29) + "}")
            expectErrorBody(update, status: .badRequest, mentioning: "schedule")
            let stored = try await harness.keyway.store.share(ShareID(id))
            #expect(stored?.schedule.count == 28)
        }
    }

    /// A share written before the cap keeps its 400 entries; the access check still answers, exactly.
    @Test func aShareStoredWithFourHundredEntriesIsStillJudged() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        var share = Fixtures.share(1, now: harness.time.now(), receiver: .user(Fixtures.invitedUser(1)))
        for index in 0..<399 {
            let minute = index * 3 % (24 * 60)
            share.schedule.append(
                ScheduleEntry(
                    dayOfWeek: DayOfWeek.allCases[index % 7],
                    period: Period(
                        startTime: LocalTime(hour: minute / 60, minute: minute % 60, second: 0)!,
                        endTime: LocalTime(hour: minute / 60, minute: minute % 60, second: 30)!),
                    recurrence: .weekly))
        }
        share.schedule.append(ScheduleEntry(dayOfWeek: nil, period: nil, recurrence: .daily))
        _ = try await harness.keyway.store.insertShare(share, event: nil)
        try await harness.test { client in
            let check = try await client.send(.get, "/v1/devices/11/access?userId=12", key: harness.manageKey)
            #expect(try check.decoded(as: Components.Schemas.AccessDecision.self).allowed == true, "\(check.text)")
        }
    }

    /// `count` weekly half hours, across the week's days and hours: a share stored before the schedule cap.
    static func halfHours(_ count: Int) -> [ScheduleEntry] {
        (0..<count).map { index in
            ScheduleEntry(
                dayOfWeek: DayOfWeek.allCases[index % 7],
                period: Period(
                    startTime: LocalTime(hour: index % 24, minute: 0, second: 0)!,
                    endTime: LocalTime(hour: index % 24, minute: 30, second: 0)!),
                recurrence: .weekly)
        }
    }

    /// Effective permissions judge a list of little work (shares plus schedule entries, over every device) in place,
    /// since the hop to the pool costs more than the judging; a list of much (a share of 1,100 entries, stored before
    /// the cap) goes to the evaluation pool, off the threads that serve requests.
    @Test func effectivePermissionsJudgeLittleWorkInPlaceAndMuchOnThePool() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (user, token) = try await client.linkedUser(harness, email: "work@example.com")
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(user)}}"#,
                key: harness.manageKey)
            let pool = harness.keyway.access.evaluation
            let before = pool.usage.started
            let little = try await client.send(.get, "/v1/effective-device-permissions", key: token)
            #expect(try little.decoded(as: [Components.Schemas.EffectivePermissionV1].self).map(\.id) == [11])
            #expect(pool.usage.started == before)

            var share = Fixtures.share(
                1, now: harness.time.now(), source: .device(DeviceID(12)), receiver: .user(UserID(user)))
            share.schedule = Self.halfHours(1_100)
            _ = try await harness.keyway.store.insertShare(share, event: nil)
            let much = try await client.send(.get, "/v1/effective-device-permissions", key: token)
            #expect(much.status == .ok, "\(much.text)")
            #expect(pool.usage.started == before + 1)
        }
    }

    /// With every evaluation thread taken, `/health` still answers and a costly access check (a share of 400
    /// entries, stored before the cap) waits for a thread instead of taking one of the threads that serve requests.
    /// (A check over a few small shares is decided in place: it costs less than the hop.)
    /// The evaluation pool does not depend on the store; it waits on timing, which the PostgreSQL rerun of the HTTP
    /// suites (every harness at once on two cores) cannot give, so it runs with the SQLite run only.
    @Test(
        .disabled(
            if: TestDatabase.serverSuitesOnPostgres, "timing under load; run once, with the SQLite run of the suites"))
    func aBusyEvaluationPoolDoesNotHoldUpHealth() async throws {
        let harness = try await Harness.make { $0.evaluationThreads = 1 }
        defer { harness.directory.remove() }
        var share = Fixtures.share(1, now: harness.time.now(), receiver: .user(Fixtures.invitedUser(1)))
        share.schedule = Self.halfHours(400)
        _ = try await harness.keyway.store.insertShare(share, event: nil)
        let pool = harness.keyway.access.evaluation
        let gate = DispatchSemaphore(value: 0)
        // Let the blocked thread go on every path (a second signal is harmless).
        defer { gate.signal() }
        let blocker = Task { await pool.run { gate.wait() } }
        try await harness.test { client in
            try await waitUntil { pool.usage.started == 1 }
            let check = Task { try await client.send(.get, "/v1/devices/11/access?userId=12", key: harness.manageKey) }
            try await waitUntil { pool.usage.waiting == 1 }
            let health = try await client.send(.get, "/health")
            #expect(health.status == .ok)
            gate.signal()
            await blocker.value
            #expect(try await check.value.status == .ok)
            #expect(pool.usage.started == 2)
        }
    }

    @Test func evaluationThreadsOutsideOneTo256StopTheStartNamingTheSetting() throws {
        for threads in [0, 257] {
            var config = KeywayConfig()
            config.evaluationThreads = threads
            #expect {
                try config.validated()
            } throws: { error in
                "\(error)".contains("KEYWAY_EVALUATION_THREADS")
            }
        }
        var config = KeywayConfig()
        config.evaluationThreads = 1
        _ = try config.validated()
    }

    /// `GET /v2/events?deviceId=1,2,…,k` for a hundred lengths k: the store runs the same statements for each
    /// (one id is an equality, two or more one bound list).
    @Test func aHundredDistinctIdListsPrepareABoundedNumberOfStatements() async throws {
        let harness = try await Harness.make(configure: Self.countingStatements)
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            func list(_ count: Int) async throws {
                let ids = (1...count).map { String($0 * 10 + 1) }.joined(separator: ",")
                let reply = try await client.send(.get, "/v2/events?deviceId=\(ids)", key: key)
                #expect(reply.status == .ok, "\(reply.text)")
            }
            // Makes an event on lock 11 so that the answer also loads its device.
            _ = try await client.send(.post, "/v1/devices/11/remote-activation", key: key)
            try await list(1)
            try await list(2)
            let before = try #require(harness.keyway.store.poolUsage().distinctStatements)
            for count in 3...100 { try await list(count) }
            let after = try #require(harness.keyway.store.poolUsage().distinctStatements)
            #expect(after == before, "\(after - before) new statements for 98 list lengths")
            expectErrorBody(
                try await client.send(
                    .get, "/v2/events?deviceId=" + (1...101).map(String.init).joined(separator: ","), key: key),
                status: .badRequest, mentioning: "deviceId")
        }
    }

    /// A signed-in user sees the shares it receives by id (a visibility set); however many there are, listing
    /// them runs the same statements.
    @Test func aGuestReceivingMoreSharesListsThemWithTheSameStatements() async throws {
        let harness = try await Harness.make(configure: Self.countingStatements)
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let (me, token) = try await AccountPolicyTests.person(client, harness, "guest@example.com")
            var before = 0
            for count in 1...30 {
                _ = try await client.createShare(
                    #"{"organizationId": 1, "source": {"deviceId": 12}, "receiver": {"userId": \#(me)}}"#, key: key)
                let list = try await client.send(.get, "/v2/shares?size=100", key: token)
                #expect(try list.decoded(as: [Components.Schemas.Share].self).count == count, "\(list.text)")
                if count == 2 { before = try #require(harness.keyway.store.poolUsage().distinctStatements) }
            }
            let after = try #require(harness.keyway.store.poolUsage().distinctStatements)
            #expect(after == before, "\(after - before) new statements for 28 visibility sets")
        }
    }

    /// The status listed only the locks among the organization's first 1000 devices.
    @Test func aGatewayOfAnOrganizationWithMoreThanAThousandDevicesReportsEveryLock() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        var seed = Seed()
        for index in 0..<1001 {
            seed.devices.append(
                Device(
                    id: DeviceID(Int64(100_000 + index)), organizationID: Fixtures.organization(1),
                    name: "Lock \(index)", type: .lock, gatewayID: Fixtures.gateway(1), dateCreated: harness.time.now())
            )
        }
        _ = try await harness.keyway.store.importSeed(seed, onlyIfEmpty: false)
        try await harness.test { client in
            let status = try await client.send(.get, "/v1/gateways/13/current-status", key: harness.manageKey)
            let ids = Set(try status.decoded(as: Components.Schemas.GatewayStatus.self).devices.map(\.deviceId))
            #expect(ids.count == 1002)
            #expect(ids.contains(11) && ids.contains(101_000))
        }
    }
}

/// Waits (yielding, at most ten seconds) until `condition` holds.
private func waitUntil(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("gave up waiting")
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
