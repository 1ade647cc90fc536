// The hemlis Kotlin bindings on the JVM (through JNA), with a relay written in Kotlin.
// Run by bindings/run-tests.sh: compiled with the generated uniffi/hemlis/hemlis.kt, run
// with -Djna.library.path pointing at the directory that holds libhemlis_ffi.so.
//
// The relay keeps the mailboxes itself and delegates prekey bundles to RelayCore (the
// protocol's encodings and signature checks live in the library), as the Python relay does.

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

    override fun devices(user: String): List<UInt> = core.devices(user)

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
    fun waiting(user: String): Int = mailboxes[user to 1u]?.size ?: 0
}

/// The same relay behind `suspend` functions, each yielding first so coroutines interleave.
class SuspendingRelay(private val relay: KotlinRelay) : FfiAsyncTransport {
    @Volatile var sends = 0

    override suspend fun publish(device: DeviceAddress, upload: ByteArray) { yield(); relay.publish(device, upload) }

    override suspend fun devices(user: String): List<UInt> { yield(); return relay.devices(user) }

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
    check(relay.waiting("bob") == 0, "acknowledged")
    bob.markRead(listOf(m.id))
    check(bob.receive().isEmpty(), "inbox empty after markRead")

    bob.send("alice", "Hi Alice".toByteArray())
    check(receiveBodies(alice) == listOf("Hi Alice"), "reply")
    check(alice.isPostQuantum("bob", 1u), "post-quantum session")
    val ours = alice.safetyNumber("bob", 1u)
    val theirs = bob.safetyNumber("alice", 1u)
    check(ours.digits == theirs.digits && ours.digits.length == 60, "safety numbers match")
    check(ours.bytes.contentEquals(theirs.bytes) && ours.bytes.size == 65, "safety number bytes")
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
    check(alice.safetyNumber("bob", 1u).digits == bob.safetyNumber("alice", 1u).digits, "safety numbers")

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
}

fun main() {
    val dir = Files.createTempDirectory("hemlis-kotlin-")
    val tests = listOf("exchange" to ::exchange, "restartAndOutbox" to ::restartAndOutbox, "asyncExchange" to ::asyncExchange)
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
