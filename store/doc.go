// Package store keeps rtchub's state: an append-only log of JSON lines in a
// data directory, replayed at start into in-memory indexes.
//
// One writer goroutine owns the log file. Callers hand it records and wait;
// it writes whatever is queued in one write, syncs once (group commit),
// applies the records to memory in seq order, tells the observer, and only
// then answers the callers. A caller that got an answer therefore has its
// record on disk (with FsyncAlways) and visible to every reader.
//
// # The data directory
//
//	rtchub.log            the log (below)
//	rtchub.log.compact    a compaction in progress; removed at start
//	rtchub.log.torn-T     a torn tail cut at start, kept for a person to look at
//	rtchub.log.damaged-T  what `rtchub verify --repair` moved aside
//	lock                  flock(2)ed by the one process using the directory;
//	                      its text says "running" or "stopped" (a clean stop)
//	signing.key           the token key (LoadOrCreateKey), 32 bytes, mode 0600
//
// # Records and framing
//
// The log is a sequence of lines, each one JSON object ending in '\n':
//
//	{"seq":5,"n":1,"created":1795589058503,"op":"ack","id":"f0599731ea568cb9655e4739","user":"alice","crc":"b59af975"}
//
// A line is framed so that a reader can check it without parsing it: it
// starts with '{' and ends with the fixed-width suffix `,"crc":"xxxxxxxx"}`
// and a newline, where xxxxxxxx is the CRC-32C (Castagnoli), in lower-case
// hex, of every byte of the line before that suffix. A line that fails the
// frame or the checksum is not a record.
//
// The fields are those of record; which ones are set depends on "op":
//
//	client.put  id, name, hash               create a client or replace it
//	client.del  id                           remove a client, bump its generation
//	user.put    id, groups                   create a user or replace its groups
//	user.del    id                           delete a user and its open copies
//	revoke      user                         bump a user's token generation
//	group.put   id, users                    create a group or add members
//	group.del   id                           delete a group (users stay)
//	msg         id, users, event, message,   a message; message is the payload
//	            created, expires             as compact JSON, times unix ms
//	ack         id, user                     a user's copy acknowledged
//	mark        (none)                       only moves seq ahead (below)
//	snapshot    upto                         opens a compacted log (below)
//	gen         user, kind, gen              in a snapshot: a revocation
//	                                         generation ("user" or "client")
//
// The writer puts seq, n, created and expires first, then the rest in the
// struct's order. Replay decodes the lines this package writes without
// reflection; any other line goes to encoding/json, which ignores keys it
// does not know (an older hub reading a newer log keeps what it knows).
//
// # Seqs and batches
//
// Every record outside a snapshot carries "seq", the hub-wide position that
// clients see as SSE event ids. Seqs increase by exactly one from record to
// record; a gap is a lost record, and only a mark may jump ahead. The writer
// commits records in batches of at most 1024 (one write, one sync). The
// first record of each batch carries "n", the number of records in it, and
// "created", the batch's time: one clock reading per batch that never goes
// back. Applying a batch first drops the messages that had expired by that
// time, so replay meets the same messages as the live hub, whose timer
// swept them.
//
// # Recovery
//
// At start the log is replayed. A damaged or partial last record (a write
// that never completed) is cut off and its bytes saved to a torn-T file
// unless they are all zeros. With FsyncAlways only the last batch can be
// unsynced at a power cut, and the disk may have kept any of its pages, so
// damage followed by intact records that all belong to the last batch is
// cut the same way. Anything else is a *CorruptError and the hub refuses to
// start: a damaged record with a later batch after it, complete JSON lines
// that fail their checksum with more lines after them (a file converted to
// CRLF or reformatted), an intact record out of seq order. One such line
// alone at the very end is cut like a torn tail.
//
// # Marks
//
// A mark record {"seq":S,"n":1,"op":"mark"} moves seq to S, leaving the
// seqs in between unused, so that a seq a client may have seen as an event
// id is never handed out again. Marks are written after `verify --repair`
// (past the seqs of the part moved aside, or SeqGap past the last intact
// seq when damage hides them), at start after a stop that was not clean
// (SeqGap: with FsyncInterval or FsyncNever frames go out before their
// records are synced), and at the end of the log copy in a backup.
//
// # Snapshots
//
// Compaction replaces the log with a snapshot of live state followed by the
// records committed while it was written. A snapshot is only ever the first
// record of a file:
//
//	{"op":"snapshot","upto":N,"crc":...}
//	client.put, gen, group.put, user.put records without seq
//	msg records with their own seq (ascending, at most N) and "acked":
//	    the recipients that had acknowledged their copy
//	records with seq N+1, N+2, ... as in any log
//
// Replaying the snapshot into an empty state gives back the live state as
// of seq N, less what was dead: removed clients, deleted users, expired
// and fully acknowledged messages (but the newest KeepAcked of those).
package store
