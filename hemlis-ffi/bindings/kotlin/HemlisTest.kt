// The hemlis Kotlin bindings on the JVM (through JNA), with a relay written in Kotlin.
// Run by bindings/run-tests.sh: compiled with the generated uniffi/hemlis/hemlis.kt, run
// with -Djna.library.path pointing at the directory that holds libhemlis_ffi.so.
//
// The relay keeps the mailboxes itself and delegates prekey bundles and device lists to
// RelayCore (the protocol's encodings and signature checks live in the library); the Python
// relay keeps the device lists itself, as opaque bytes.

import java.nio.file.Files
import java.nio.file.Path
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.yield
import uniffi.hemlis.DeviceAddress
import uniffi.hemlis.FfiAsyncTransport
import uniffi.hemlis.FfiTransport
import uniffi.hemlis.HemlisAsyncClient
import uniffi.hemlis.createLinkedAsyncClient
import uniffi.hemlis.openOrCreateAsyncClient
import uniffi.hemlis.HemlisClient
import uniffi.hemlis.HemlisException
import uniffi.hemlis.TransportKind
import uniffi.hemlis.IncomingEnvelope
import uniffi.hemlis.RelayCore
import uniffi.hemlis.TransportFailure

class KotlinRelay : FfiTransport {
    private val core = RelayCore()
    private val mailboxes = HashMap<Pair<String, UInt>, LinkedHashMap<ULong, IncomingEnvelope>>()
    private var nextId = 0UL
    @Volatile var down = false

    override fun publish(device: DeviceAddress, upload: ByteArray) = core.publish(device, upload)

    override fun publishDeviceList(user: String, list: ByteArray) = core.publishDeviceList(user, list)

    override fun fetchDeviceList(user: String): ByteArray = core.fetchDeviceList(user)

    override fun fetchBundle(device: DeviceAddress): ByteArray = core.fetchBundle(device)

    @Synchronized
    override fun send(sender: DeviceAddress, recipient: DeviceAddress, envelope: ByteArray) {
        if (down) throw TransportFailure.Unavailable("relay unreachable")
        if (recipient.device !in core.devices(recipient.user)) throw TransportFailure.NotFound()
        nextId += 1UL
        mailboxes.getOrPut(recipient.user to recipient.device) { LinkedHashMap() }[nextId] =
            IncomingEnvelope(nextId, sender, envelope.copyOf())
    }

    @Synchronized
    override fun fetch(device: DeviceAddress): List<IncomingEnvelope> =
        mailboxes[device.user to device.device]?.values?.toList() ?: emptyList()

    @Synchronized
    override fun ack(device: DeviceAddress, ids: List<ULong>) {
        val box = mailboxes[device.user to device.device] ?: return
        ids.forEach { box.remove(it) }
    }

    @Synchronized
    fun waiting(user: String, device: UInt = 1u): Int = mailboxes[user to device]?.size ?: 0
}

/// The same relay behind `suspend` functions, each yielding first so coroutines interleave.
class SuspendingRelay(private val relay: KotlinRelay) : FfiAsyncTransport {
    @Volatile var sends = 0

    override suspend fun publish(device: DeviceAddress, upload: ByteArray) { yield(); relay.publish(device, upload) }

    override suspend fun publishDeviceList(user: String, list: ByteArray) { yield(); relay.publishDeviceList(user, list) }

    override suspend fun fetchDeviceList(user: String): ByteArray { yield(); return relay.fetchDeviceList(user) }

    override suspend fun fetchBundle(device: DeviceAddress): ByteArray { yield(); return relay.fetchBundle(device) }

    override suspend fun send(sender: DeviceAddress, recipient: DeviceAddress, envelope: ByteArray) {
        yield()
        relay.send(sender, recipient, envelope)
        synchronized(this) { sends += 1 }
    }

    override suspend fun fetch(device: DeviceAddress): List<IncomingEnvelope> { yield(); return relay.fetch(device) }

    override suspend fun ack(device: DeviceAddress, ids: List<ULong>) { yield(); relay.ack(device, ids) }
}

fun check(condition: Boolean, what: String) {
    if (!condition) throw AssertionError(what)
}

fun receiveBodies(client: HemlisClient): List<String> {
    val messages = client.receive()
    client.markRead(messages.map { it.id })
    return messages.map { String(it.body) }
}

fun exchange(dir: Path) {
    val relay = KotlinRelay()
    val alice = HemlisClient.openOrCreate(dir.resolve("alice.db").toString(), ByteArray(32) { 1 }, "alice", 1u, relay)
    val bob = HemlisClient.openOrCreate(dir.resolve("bob.db").toString(), ByteArray(32) { 2 }, "bob", 1u, relay)

    check(alice.send("bob", "Hi Bob".toByteArray()) == 1u, "sent to one device")
    val messages = bob.receive()
    check(messages.size == 1, "one message")
    val m = messages[0]
    check(m.fromUser == "alice" && m.fromDevice == 1u, "from alice/1")
    check(String(m.body) == "Hi Bob", "body")
    check(m.senderIdentity.contentEquals(alice.identityKey()), "sender identity")
    check(!m.identityChanged, "identity unchanged")
    check(m.sentTo == null, "not a sent copy")
    check(relay.waiting("bob") == 0, "acknowledged")
    bob.markRead(listOf(m.id))
    check(bob.receive().isEmpty(), "inbox empty after markRead")

    bob.send("alice", "Hi Alice".toByteArray())
    check(receiveBodies(alice) == listOf("Hi Alice"), "reply")
    check(alice.isPostQuantum("bob", 1u), "post-quantum session")
    val ours = alice.safetyNumber("bob")
    val theirs = bob.safetyNumber("alice")
    check(ours.digits == theirs.digits && ours.digits.length == 60, "safety numbers match")
    check(ours.bytes.contentEquals(theirs.bytes) && ours.bytes.size == 65, "safety number bytes")
    check(alice.pendingAccount("bob") == null, "no account change")
    val own = alice.ownDevices()!!
    check(own.version == 1UL && own.accountKey.size == 32, "own list: version ${own.version}")
    check(own.devices.map { it.device } == listOf(1u), "own devices")
    check(own.devices[0].identity.contentEquals(alice.identityKey()), "own identity listed")
}

fun linkSecondDevice(dir: Path) {
    val relay = KotlinRelay()
    val alice = HemlisClient.openOrCreate(dir.resolve("alice-l.db").toString(), ByteArray(32) { 1 }, "alice", 1u, relay)
    val bob = HemlisClient.openOrCreate(dir.resolve("bob-l.db").toString(), ByteArray(32) { 2 }, "bob", 1u, relay)
    check(bob.isLinked() && bob.linkCode() == null, "the first device is linked")

    // The new device shows its code; the first device links it with that code.
    val bob2 = HemlisClient.createLinked(dir.resolve("bob2-l.db").toString(), ByteArray(32) { 3 }, "bob", 2u, relay)
    check(!bob2.isLinked() && bob2.ownDevices() == null, "not linked yet")
    try {
        bob2.send("alice", "too early".toByteArray())
        throw AssertionError("sent before being linked")
    } catch (e: HemlisException.NotLinked) {
    }
    val confirmation = bob.link(bob2.linkCode()!!)
    check(confirmation.length == 6 && confirmation.all { it.isDigit() }, "six digits: $confirmation")
    check(bob2.receive().isEmpty(), "the provisioning message is no inbox message")
    check(bob2.isLinked(), "linked")
    check(bob2.linkConfirmation() == confirmation, "both screens show the same code")
    check(bob.linkConfirmation() == confirmation, "the linking device shows it too")
    val own = bob.ownDevices()!!
    val own2 = bob2.ownDevices()!!
    check(
        own.version == own2.version && own.accountKey.contentEquals(own2.accountKey) &&
            own.devices.zip(own2.devices).all { (a, b) -> a.device == b.device && a.identity.contentEquals(b.identity) },
        "both devices hold the same list",
    )
    check(own.version == 2UL && own.devices.map { it.device } == listOf(1u, 2u), "two devices, version 2")
    check(own.devices[1].identity.contentEquals(bob2.identityKey()), "the new device's identity")

    // Another user's message reaches both of Bob's devices.
    check(alice.send("bob", "Hi Bob, both of you".toByteArray()) == 2u, "sent to two devices")
    for (device in listOf(bob, bob2)) {
        val got = device.receive()
        check(got.map { Triple(it.fromUser, it.fromDevice, String(it.body)) } == listOf(Triple("alice", 1u, "Hi Bob, both of you")), "received: $got")
        check(got[0].sentTo == null, "a message, not a copy")
        device.markRead(got.map { it.id })
    }

    // Bob replies from his new device: Alice gets it, and his first device a sent copy.
    check(bob2.send("alice", "from my new phone".toByteArray()) == 2u, "to alice and a copy")
    val reply = alice.receive()
    check(reply.map { it.fromDevice to String(it.body) } == listOf(2u to "from my new phone"), "reply: $reply")
    check(reply[0].senderIdentity.contentEquals(bob2.identityKey()), "from the new device")
    alice.markRead(reply.map { it.id })
    val copies = bob.receive()
    check(copies.map { Triple(it.fromDevice, String(it.body), it.sentTo) } == listOf(Triple(2u, "from my new phone", "alice")), "sent copy: $copies")
    bob.markRead(copies.map { it.id })
    check(alice.safetyNumber("bob").digits == bob2.safetyNumber("alice").digits, "one safety number per account")

    // Alice links a second device too: her message reaches both of Bob's devices, and her
    // other device gets a sent copy.
    val alice2 = HemlisClient.createLinked(dir.resolve("alice2-l.db").toString(), ByteArray(32) { 5 }, "alice", 2u, relay)
    check(alice.link(alice2.linkCode()!!) == alice2.run { receive(); linkConfirmation() }, "alice's codes match")
    check(alice.send("bob", "from both sides".toByteArray()) == 3u, "two devices of bob and a copy")
    for (device in listOf(bob, bob2)) {
        val got = device.receive()
        check(got.map { Triple(it.fromDevice, String(it.body), it.sentTo) } == listOf(Triple(1u, "from both sides", null)), "received: $got")
        device.markRead(got.map { it.id })
    }
    val aliceCopies = alice2.receive()
    check(aliceCopies.map { Triple(it.fromDevice, String(it.body), it.sentTo) } == listOf(Triple(1u, "from both sides", "bob")), "alice's copy: $aliceCopies")

    // Only a device that holds the account key links; a code of another user is refused.
    val bob3 = HemlisClient.createLinked(dir.resolve("bob3-l.db").toString(), ByteArray(32) { 4 }, "bob", 3u, relay)
    val text = bob3.linkCodeText()!!
    try {
        bob2.linkText(text)
        throw AssertionError("a device without the account key linked")
    } catch (e: HemlisException.CannotSign) {
    }
    try {
        alice.linkText(text)
        throw AssertionError("linked a device of another user")
    } catch (e: HemlisException.InvalidLinkCode) {
    }

    // Unlinked, the new device gets nothing more.
    bob.unlink(2u)
    check(bob.ownDevices()!!.devices.map { it.device } == listOf(1u), "one device left")
    check(alice.send("bob", "just one now".toByteArray()) == 2u, "sent to bob/1, and the copy to alice/2")
    check(receiveBodies(bob) == listOf("just one now"), "the first device")
    check(relay.waiting("bob", 2u) == 0, "nothing for the unlinked device")
}

fun restartAndOutbox(dir: Path) {
    val relay = KotlinRelay()
    val aliceDb = dir.resolve("alice2.db").toString()
    val alice = HemlisClient.openOrCreate(aliceDb, ByteArray(32) { 3 }, "alice", 1u, relay)
    var bob: HemlisClient? =
        HemlisClient.openOrCreate(dir.resolve("bob2.db").toString(), ByteArray(32) { 4 }, "bob", 1u, relay)
    alice.send("bob", "first".toByteArray())
    check(receiveBodies(bob!!) == listOf("first"), "first")
    bob.close()
    bob = null

    // A wrong storage key is an exception of its own.
    try {
        HemlisClient.openOrCreate(dir.resolve("bob2.db").toString(), ByteArray(32) { 9 }, "bob", 1u, relay)
        throw AssertionError("a wrong key opened the database")
    } catch (e: HemlisException.WrongStorageKey) {
    }

    relay.down = true
    check(alice.send("bob", "queued".toByteArray()) == 1u, "committed while the relay is down")
    check(alice.outboxLen() == 1u, "kept in the outbox")
    try {
        alice.flush()
        throw AssertionError("flush succeeded with the relay down")
    } catch (e: HemlisException.Transport) {
        check(e.reason.contains("relay unreachable"), "transport reason: ${e.reason}")
        check(e.kind == TransportKind.UNAVAILABLE, "transport kind: ${e.kind}")
    }
    relay.down = false
    check(alice.flush() == 1u, "flushed")
    check(alice.outboxLen() == 0u, "outbox empty")

    val bobAgain = HemlisClient.openOrCreate(dir.resolve("bob2.db").toString(), ByteArray(32) { 4 }, "bob", 1u, relay)
    check(receiveBodies(bobAgain) == listOf("queued"), "received after restart")
    bobAgain.send("alice", "back".toByteArray())
    check(receiveBodies(alice) == listOf("back"), "reply after restart")

    try {
        alice.send("nobody", "x".toByteArray())
        throw AssertionError("sent to a user with no devices")
    } catch (e: HemlisException.NoDevices) {
    }
}

fun asyncExchange(dir: Path) = runBlocking {
    val relay = KotlinRelay()
    val transport = SuspendingRelay(relay)
    val alice: HemlisAsyncClient =
        openOrCreateAsyncClient(dir.resolve("alice3.db").toString(), ByteArray(32) { 5 }, "alice", 1u, transport)
    val bob = openOrCreateAsyncClient(dir.resolve("bob3.db").toString(), ByteArray(32) { 6 }, "bob", 1u, transport)
    check(alice.send("bob", "Hi Bob".toByteArray()) == 1u, "sent to one device")
    val messages = bob.receive()
    check(messages.map { String(it.body) } == listOf("Hi Bob"), "received")
    bob.markRead(messages.map { it.id })
    bob.send("alice", "Hi Alice".toByteArray())
    check(alice.receive().map { String(it.body) } == listOf("Hi Alice"), "reply")
    check(alice.safetyNumber("bob").digits == bob.safetyNumber("alice").digits, "safety numbers")

    // Ten coroutines send through one client at once; each envelope reaches the relay once.
    val before = transport.sends
    (0 until 10).map { i -> async { alice.send("bob", "m$i".toByteArray()) } }.awaitAll()
    alice.flush()
    check(alice.outboxLen() == 0u, "outbox empty")
    check(transport.sends - before == 10, "each envelope sent once: ${transport.sends - before}")
    val bodies = bob.receive().map { String(it.body) }.sorted()
    check(bodies == (0 until 10).map { "m$it" }.sorted(), "every message once: $bodies")

    relay.down = true
    check(alice.send("bob", "queued".toByteArray()) == 1u, "committed while the relay is down")
    try {
        alice.flush()
        throw AssertionError("flush succeeded with the relay down")
    } catch (e: HemlisException.Transport) {
    }
    relay.down = false
    check(alice.flush() == 1u, "flushed")

    // Linking with suspending calls.
    val bob2 = createLinkedAsyncClient(dir.resolve("bob3-2.db").toString(), ByteArray(32) { 7 }, "bob", 2u, transport)
    val confirmation = bob.linkText(bob2.linkCodeText()!!)
    bob.markRead(bob.receive().map { it.id })
    check(bob2.receive().isEmpty() && bob2.isLinked(), "linked")
    check(bob2.linkConfirmation() == confirmation, "same confirmation code")
    check(alice.send("bob", "to both".toByteArray()) == 2u, "sent to two devices")
    for (device in listOf(bob, bob2)) {
        check(device.receive().map { String(it.body) } == listOf("to both"), "received on ${device.address().device}")
    }
}

fun main() {
    val dir = Files.createTempDirectory("hemlis-kotlin-")
    val tests = listOf(
        "exchange" to ::exchange,
        "linkSecondDevice" to ::linkSecondDevice,
        "restartAndOutbox" to ::restartAndOutbox,
        "asyncExchange" to ::asyncExchange,
    )
    var failed = 0
    for ((name, test) in tests) {
        try {
            test(dir)
            println("test $name ... ok")
        } catch (e: Throwable) {
            failed += 1
            println("test $name ... FAILED: $e")
            e.printStackTrace()
        }
    }
    dir.toFile().deleteRecursively()
    println("kotlin: ${tests.size - failed} passed, $failed failed")
    if (failed > 0) kotlin.system.exitProcess(1)
}
