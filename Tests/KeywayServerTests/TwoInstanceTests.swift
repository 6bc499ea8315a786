import Foundation
import KeywayCore
import KeywayStorePostgres
import KeywayTestSupport
import Testing

/// Two `keyway serve` processes on one PostgreSQL database, as an operator runs several stateless
/// instances: both deliver webhooks and both keep house, every 100 ms. Every event reaches the webhook
/// exactly once and in order (none lost, none twice) though the receiver fails its first attempts, and
/// every expired share is removed by exactly one housekeeping pass.
@Suite(
    "Two instances on one PostgreSQL", .sharingTheMachineAsOneSuite, .enabled(if: TestDatabase.postgresURL != nil),
    .timeLimit(.minutes(5)))
struct TwoInstanceTests {
    static func start(_ url: String) async throws -> (CommandLineTests.Run, String, String) {
        try await CommandLineTests.serveDemo([
            "--database-url", url, "--manual-clock", "--webhook-interval", "0.1", "--housekeeping-interval", "0.1",
            "--database-connections", "8", "--allow-private-targets",
        ])
    }

    @Test func webhooksAreDeliveredOnceAndHousekeepingRunsOnceAcrossTwoInstances() async throws {
        let (url, drop) = try await TestDatabase.freshPostgres()
        defer { drop() }
        let receiver = RecordingServer()
        receiver.failNext(2)
        // Slower than a delivery round: while one instance waits for an answer, the other's rounds come by.
        receiver.answerAfter(.milliseconds(300))
        try await receiver.serve { port in
            // The first instance creates the demo data; the second finds it and gets its own key.
            let (first, firstBase, firstKey) = try await Self.start(url)
            defer { first.process.terminate() }
            let (second, secondBase, secondKey) = try await Self.start(url)
            defer { second.process.terminate() }
            let instances = [(firstBase, firstKey), (secondBase, secondKey)]
            for (base, key) in instances {
                let (status, _) = await CrashTests.send(
                    "PUT", "\(base)/v1/dev/clock", key: key, json: #"{"now": "2030-03-04T08:00:00Z"}"#)
                #expect(status == 200)
            }
            let (status, _) = await CrashTests.send(
                "POST", "\(firstBase)/v3/webhooks", key: firstKey,
                json: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:\#(port)/hook"}"#)
            #expect(status == 200)

            // 40 shares, half through each instance, at the same time: 40 ShareCreated events.
            let count = 40
            let answers = await withTaskGroup(of: (Int, Int?, String).self) { group in
                for n in 0..<count {
                    let (base, key) = instances[n % 2]
                    group.addTask {
                        let (status, body) = await CrashTests.send(
                            "POST", "\(base)/v2/shares", key: key,
                            json: #"""
                                {"organizationId": 1, "source": {"deviceId": 1}, "receiver": {"userId": 4},
                                 "externalId": "twin-\#(n)", "endDate": "2030-03-05", "autoRemoveAfter": "WEEK"}
                                """#, timeout: 60)  // the whole suite runs beside this on two cores
                        return (status, body["shareId"] as? Int, "\(body)")
                    }
                }
                return await group.reduce(into: [(Int, Int?, String)]()) { $0.append($1) }
            }
            let created = answers.compactMap { $0.0 == 200 ? $0.1 : nil }
            #expect(created.count == count, "\(answers.filter { $0.0 != 200 })")

            // Past the shares' autoRemoveDate on both clocks: both housekeepers race for them.
            for (base, key) in instances {
                _ = await CrashTests.send(
                    "PUT", "\(base)/v1/dev/clock", key: key, json: #"{"now": "2030-04-01T08:00:00Z"}"#)
            }

            // Wait for the events (40 created, 40 or more deleted) to arrive. The clocks stand still, so each
            // second they move on an hour: a batch the receiver refused is retried on the retry's due time.
            let deadline = Date().addingTimeInterval(150)  // generous: the whole suite runs beside this on two cores
            func events() -> [[String: Any]] { receiver.received.flatMap { ($0.json as? [[String: Any]]) ?? [] } }
            let store = try PostgresStore(url: url, maximumConnections: 1)
            store.start()
            do {
                var hour: TimeInterval = 1
                let april = Date(timeIntervalSince1970: 1_901_260_800)  // 2030-04-01T08:00:00Z
                func finished() async throws -> Bool {
                    guard events().count >= 2 * count else { return false }
                    return try await store.undeliveredCount() == 0
                }
                while try await !finished(), Date() < deadline {
                    try await Task.sleep(for: .seconds(1))
                    for (base, key) in instances {
                        _ = await CrashTests.send(
                            "PUT", "\(base)/v1/dev/clock", key: key,
                            json: #"{"now": "\#(ISO8601DateFormatter().string(from: april + hour * 3600))"}"#)
                    }
                    hour += 1
                }
                try await Task.sleep(for: .milliseconds(500))  // anything sent twice would arrive by now

                let delivered = events()
                let ids = delivered.compactMap { $0["eventId"] as? Int }
                #expect(ids.count >= 2 * count, "\(ids.count) events delivered")
                #expect(Set(ids).count == ids.count, "an event was delivered twice")
                #expect(ids == ids.sorted(), "events arrived out of order")
                let kinds = Dictionary(grouping: delivered, by: { $0["type"] as? String ?? "" })
                let createdIDs = Set((kinds["ShareCreated"] ?? []).compactMap { $0["shareId"] as? Int })
                let deletedIDs = (kinds["ShareDeleted"] ?? []).compactMap { $0["shareId"] as? Int }
                #expect(createdIDs == Set(created))
                #expect(Set(deletedIDs).count == deletedIDs.count, "a share was removed twice")
                #expect(Set(created).isSubset(of: Set(deletedIDs)), "an expired share was not removed")

                // The housekeeping log: the removals (the 40 and a demo share) happened in passes of one instance
                // at a time, each share counted once; both instances took part in housekeeping.
                let runs = try await store.housekeepingRuns()
                // (The demo's own expired share may go before the webhook exists: the event log has them all.)
                let logged = try await store.events(
                    matching: EventQuery(
                        organizations: [OrganizationID(1)], types: [.shareDeleted], page: try Page(offset: 0, size: 100)
                    ))
                let loggedShares = logged.compactMap(\.shareID)
                #expect(Set(loggedShares).count == loggedShares.count, "a share was removed twice")
                // The log keeps 30 days by the clock, which moves an hour a second here: on a slow machine the
                // demo share's early pass (March) falls out of it. The passes since April 1 are all still there.
                let passesSinceApril = runs.filter { $0.started >= april }
                let removedSinceApril = logged.filter { $0.time >= april }.compactMap(\.shareID)
                #expect(passesSinceApril.map(\.sharesRemoved).reduce(0, +) == removedSinceApril.count)
                #expect(removedSinceApril.count >= count)
                #expect(Set(runs.map(\.instance)).count == 2, "only one instance ever kept house")
                #expect(try await store.undeliveredCount() == 0)
            } catch {
                await store.shutdown()  // a failed #require throws: close the pool before the schema goes
                throw error
            }
            await store.shutdown()
        }
    }
}
