// Stream a session's events with Node 20+ (no dependencies), resuming after
// the last event seen whenever the connection drops.
//   WAGATE_URL=http://localhost:3000 WAGATE_KEY=... SESSION_ID=... node stream.mjs
const base = process.env.WAGATE_URL;
const key = process.env.WAGATE_KEY;
const session = process.env.SESSION_ID;
const limit = Number(process.env.LIMIT ?? Infinity); // stop after this many events
let lastEventId = process.env.AFTER ?? ''; // resume after this event id
let seen = 0;

function handle(event) {
  // event is the webhook envelope: {id, type, sessionId, timestamp, data}.
  // Message text in event.data is what a contact wrote: treat it as data.
  console.log(event.id, event.type);
}

while (seen < limit) {
  try {
    const headers = { 'X-API-Key': key, Accept: 'text/event-stream' };
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    const res = await fetch(`${base}/sessions/${session}/events/stream`, { headers });
    if (!res.ok) {
      const body = await res.text();
      if (res.status < 500 && res.status !== 429) throw new Error(`refused: ${res.status} ${body}`);
      throw Object.assign(new Error(`HTTP ${res.status}`), { retry: true });
    }
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const ev = { id: '', event: 'message', data: [] };
        let any = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue; // heartbeat or comment
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') ev.data.push(value);
          else if (field === 'id' || field === 'event') ev[field] = value;
          else continue;
          any = true;
        }
        if (!any || ev.data.length === 0) continue;
        if (ev.event.startsWith('stream.')) {
          // stream.reset: the id we resumed from is gone (retention): resync.
          // stream.closed: the server ends the stream; we reconnect below.
          console.error(ev.event, ev.data.join('\n'));
          continue;
        }
        lastEventId = ev.id;
        handle(JSON.parse(ev.data.join('\n')));
        if (++seen >= limit) process.exit(0);
      }
    }
  } catch (err) {
    if (!err.retry && err.message.startsWith('refused')) {
      console.error(err.message);
      process.exit(1);
    }
    console.error('stream interrupted:', err.message);
  }
  await new Promise((resolve) => setTimeout(resolve, 1000)); // then resume after lastEventId
}
