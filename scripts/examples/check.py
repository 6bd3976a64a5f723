#!/usr/bin/env python3
"""Runs the examples of the customer's chat-management.md against a sandbox wagate.

Started by scripts/examples/run.sh, which builds and starts wagate in sandbox
mode and passes its address and admin key in the environment:

  WAGATE_URL        http://127.0.0.1:PORT
  WAGATE_ADMIN_KEY  the admin key (for /sessions/create and /sandbox/...)
  CHAT_MANAGEMENT_MD  the customer's document
  EXAMPLES_WORK     a scratch directory (the generated example files go there)
  EXAMPLES_NODE_MODULES  scripts/examples/node_modules (axios)

The document is the source: the curl commands, the documented response bodies,
the JavaScript and the Python code are extracted from it, and only the URL
host/port, session id, session key, chat and message id are substituted. Each
example's response must equal the documented body, and after each one the
sandbox views must show its effect: what the contact's device decrypted (edit,
revoke, pin, unpin, reaction, with the right target id) or the phone's decoded
app state (archive, unarchive, unread, star, delete chat).

Each language runs against its own session (its own simulated phone), so the
phone's app state starts clean for each.

Exits 1 when any check fails; the last line is "N passed, M failed".
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time

import requests

BASE = os.environ["WAGATE_URL"].rstrip("/")
ADMIN_KEY = os.environ["WAGATE_ADMIN_KEY"]
DOC = os.environ["CHAT_MANAGEMENT_MD"]
WORK = os.environ["EXAMPLES_WORK"]
NODE_MODULES = os.environ["EXAMPLES_NODE_MODULES"]
HERE = os.path.dirname(os.path.abspath(__file__))

# What the document writes where the reader puts their own values.
DOC_BASE = "http://localhost:3000"
DOC_SESSION = "e67a00be-ed45-4356-9488-049cabb9895d"
DOC_KEY = "wask_your_session_key"
DOC_CHAT = "919988066776@s.whatsapp.net"
DOC_MSG_PLACEHOLDERS = ("MESSAGE_ID", "MSG_ID")

CONTACT = "919988066776"  # the document's chat: this contact messages each session first
CHAT = CONTACT + "@s.whatsapp.net"
PHONES = {"curl": "15550007001", "javascript": "15550007002", "python": "15550007003"}
EFFECT_TIMEOUT = 10.0  # seconds to wait for a sandbox view to show an effect
QUIET_WAIT = 1.0  # seconds to watch that a refused operation changed nothing

passed = 0
failed = []


def log(msg):
    print(msg, flush=True)


def ok(name):
    global passed
    passed += 1
    log(f"  ok    {name}")


def fail(name, why):
    failed.append(name)
    log(f"  FAIL  {name}\n        {why}")


class SetupError(Exception):
    pass


# ---------------------------------------------------------------- the document


def read_json_block(lines, i):
    """Parses the JSON object starting at lines[i] ('{'); returns (obj, next index)."""
    if lines[i].strip() != "{":
        raise ValueError(f"line {i + 1}: expected '{{', got {lines[i]!r}")
    depth, j, buf = 0, i, []
    while j < len(lines):
        buf.append(lines[j])
        depth += lines[j].count("{") - lines[j].count("}")
        j += 1
        if depth == 0:
            break
    return json.loads("\n".join(buf)), j


def parse_doc(path):
    """Extracts the curl examples (with their documented responses), the error
    bodies, and the JavaScript and Python code of the document."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    examples, pending, errors = [], [], {}
    title, label, in_errors = None, "", False
    js = py = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"^(GET|POST|PUT|DELETE|PATCH) /sessions/", line):
            title, label = lines[i - 2].strip(), ""
        elif line.startswith("Example Request"):
            m = re.match(r"Example Request(?: \((.*)\))?$", line.strip())
            label = (m.group(1) or "") if m else ""
        elif line.startswith("curl "):
            cmd = [line]
            # a command continues after a trailing backslash or inside an open quote
            while cmd[-1].endswith("\\") or "\n".join(cmd).count("'") % 2 == 1:
                i += 1
                cmd.append(lines[i])
            name = title + (f" ({label})" if label else "")
            ex = {"title": title, "label": label, "name": name, "cmd": "\n".join(cmd), "body": None}
            examples.append(ex)
            pending.append(ex)
        elif line.strip() == "Response" and pending:
            body, i = read_json_block(lines, i + 1)
            for ex in pending:
                ex["body"] = body
            pending = []
            continue
        elif line.strip() == "Error Responses":
            in_errors = True
        elif in_errors and line.strip() == "{":
            err_title = lines[i - 1].strip()
            body, i = read_json_block(lines, i)
            errors[err_title] = body
            continue
        elif line.strip() == "Code Examples":
            in_errors = False
        elif line.strip() == "JavaScript (Node.js)":
            j = lines.index("Python", i)
            js = "\n".join(lines[i + 1 : j]) + "\n"
        elif line.strip() == "Python" and js is not None and py is None:
            j = lines.index("Best Practices", i)
            py = "\n".join(lines[i + 1 : j]) + "\n"
        i += 1
    if pending:
        raise ValueError("examples without a Response: " + ", ".join(e["name"] for e in pending))
    return examples, errors, js, py


def substitute(text, session, key, msg_id=None, base=BASE, chat=CHAT):
    """Replaces the document's placeholders by the real values."""
    text = text.replace(DOC_BASE, base).replace(DOC_SESSION, session).replace(DOC_KEY, key)
    text = text.replace(DOC_CHAT, chat)
    if msg_id is not None:
        for p in DOC_MSG_PLACEHOLDERS:
            text = re.sub(r"\b" + p + r"\b", msg_id, text)
    return text


def doc_body(body, chat=CHAT):
    """The documented body with the real chat filled in."""
    return json.loads(json.dumps(body).replace(DOC_CHAT, chat))


def curl_payload(cmd):
    """The JSON of a curl command's -d '...' argument, or None."""
    argv = shlex.split(cmd.replace("\\\n", " "))
    for k, a in enumerate(argv):
        if a in ("-d", "--data", "--data-raw") and k + 1 < len(argv):
            return json.loads(argv[k + 1])
    return None


# ---------------------------------------------------------------- wagate and the sandbox


def api(method, path, key, body=None, want=200):
    r = requests.request(method, BASE + path, headers={"X-API-Key": key}, json=body, timeout=30)
    if want is not None and r.status_code != want:
        raise SetupError(f"{method} {path}: HTTP {r.status_code} {r.text.strip()}")
    return r.json()


class Session:
    def __init__(self, lang):
        self.lang = lang
        out = api("POST", "/sessions/create", ADMIN_KEY, {"name": f"examples-{lang}"}, want=201)
        self.id, self.key = out["session"]["id"], out["apiKey"]
        phone = PHONES[lang]
        link = None
        for attempt in range(20):  # the QR may not be there the very first instant
            r = requests.post(f"{BASE}/sandbox/sessions/{self.id}/link", headers={"X-API-Key": ADMIN_KEY},
                              json={"phone": phone, "method": "qr"}, timeout=60)
            if r.status_code == 200:
                link = r.json()
                break
            time.sleep(0.25)
        if link is None:
            raise SetupError(f"linking session {self.id}: HTTP {r.status_code} {r.text.strip()}")
        self.jid = link["jid"]
        if self.jid != phone + "@s.whatsapp.net":
            raise SetupError(f"linked as {self.jid}, want {phone}@s.whatsapp.net")
        # The contact exists once it has written; this also gives the chat a real last message.
        self.inbound = self.contact_writes(f"Hello from {CONTACT} to the {lang} session")

    def contact_writes(self, text):
        mid = api("POST", f"/sandbox/sessions/{self.id}/inbound", ADMIN_KEY, {"from": CONTACT, "text": text})["messageId"]
        self.wait_stored(mid)
        return mid

    def send(self, text):
        out = api("POST", f"/sessions/{self.id}/send", self.key, {"to": CONTACT, "text": text})
        if out.get("to") != CHAT or out.get("status") != "sent":
            raise SetupError(f"send: unexpected answer {out}")
        self.wait_stored(out["messageId"])
        return out["messageId"]

    def wait_stored(self, mid):
        deadline = time.time() + EFFECT_TIMEOUT
        while True:
            r = requests.get(f"{BASE}/sessions/{self.id}/chats/{CHAT}/messages/{mid}",
                             headers={"X-API-Key": self.key}, timeout=30)
            if r.status_code == 200:
                return
            if time.time() > deadline:
                raise SetupError(f"message {mid} not in the store after {EFFECT_TIMEOUT}s: HTTP {r.status_code}")
            time.sleep(0.1)

    def phone(self):
        return api("GET", f"/sandbox/sessions/{self.id}/phone", ADMIN_KEY)

    def chat_view(self):
        for c in self.phone()["chats"]:
            if c["jid"] == CHAT:
                return c
        return {"jid": CHAT, "archived": False, "markedUnread": False, "deleted": False}

    def starred(self, mid):
        return any(s["id"] == mid and s["chat"] == CHAT for s in self.phone()["starred"])

    def contact_received(self):
        """What the contact's device decrypted from this session's account."""
        msgs = api("GET", f"/sandbox/contacts/{CONTACT}/messages", ADMIN_KEY)["messages"]
        return [m for m in msgs if m["from"] == self.jid]


# ---------------------------------------------------------------- effects


def received(kind, target, **want):
    def match(m):
        if m["kind"] != kind or m.get("targetId") != target:
            return False
        for k, v in want.items():
            got = m.get(k)
            if k == "emoji" and v == "":
                if got not in (None, ""):
                    return False
            elif got != v:
                return False
        return True

    article = "an" if kind[0] in "aeiou" else "a"
    desc = f"the contact decrypted {article} {kind} of {target}" + "".join(f", {k}={v!r}" for k, v in want.items())
    return ("contact", match, desc)


def phone_chat(field, value):
    return ("phone", lambda s: s.chat_view()[field] is value, f"the phone shows {CHAT} {field}={value}")


def phone_starred(mid, value):
    return ("phone", lambda s: s.starred(mid) is value, f"the phone's starred messages {'include' if value else 'exclude'} {mid}")


def effect_of(title, label, mid, payload):
    """The sandbox view that shows the operation's effect, by the document's section title."""
    if title == "Delete Chat":
        return phone_chat("deleted", True)
    if title == "Archive Chat":
        return phone_chat("archived", True)
    if title == "Unarchive Chat":
        return phone_chat("archived", False)
    if title == "Mark Chat as Unread":
        return phone_chat("markedUnread", True)
    if title == "Delete Message":
        return received("revoke", mid)
    if title == "Edit Message":
        return received("edit", mid, text=payload["text"])
    if title == "Pin Message":
        return received("pin", mid, pinDurationSeconds=24 * 3600)
    if title == "Unpin Message":
        return received("unpin", mid)
    if title == "React to Message":
        return received("reaction", mid, emoji=payload["emoji"])
    if title == "Star Message":
        return phone_starred(mid, payload.get("star", True) if payload else True)
    return None


def wait_effect(session, effect, before):
    where, pred, desc = effect
    deadline = time.time() + EFFECT_TIMEOUT
    while True:
        if where == "contact":
            new = session.contact_received()[before:]
            if any(pred(m) for m in new):
                return None
        elif pred(session):
            return None
        if time.time() > deadline:
            seen = session.contact_received()[before:] if where == "contact" else session.phone()
            return f"not seen after {EFFECT_TIMEOUT:.0f}s: {desc}; the view shows {json.dumps(seen, ensure_ascii=False)}"
        time.sleep(0.1)


def check(session, name, call, want_body, effect=None, precondition=None):
    """Runs one example: its body must equal the documented one, then its effect must show."""
    if precondition and precondition[0] == "phone" and precondition[1](session):
        fail(name, f"precondition: already true before the call: {precondition[2]}")
        return
    before = len(session.contact_received())
    try:
        body = call()
    except Exception as e:  # noqa: BLE001 - any failure of the example is a failed check
        fail(name, f"the example failed: {e}")
        return
    if body != want_body:
        fail(name, "response body differs from the document:\n"
                   f"        document: {json.dumps(want_body, ensure_ascii=False, sort_keys=True)}\n"
                   f"        wagate:   {json.dumps(body, ensure_ascii=False, sort_keys=True)}")
        bad_body = True
    else:
        bad_body = False
    if effect is None:
        if not bad_body:
            ok(name)
        return
    why = wait_effect(session, effect, before)
    if why:
        fail(name + " [sandbox view]", why)
    elif not bad_body:
        ok(f"{name}  (body as documented; {effect[2]})")
    else:
        log(f"        (the effect did show: {effect[2]})")


def check_refused(session, name, call, want_body):
    """An error example: the documented error body, and nothing reaches the contact or the phone."""
    before_contact = len(session.contact_received())
    before_phone = session.phone()
    try:
        body = call()
    except Exception as e:  # noqa: BLE001
        fail(name, f"the example failed: {e}")
        return
    if body != want_body:
        fail(name, "response body differs from the document:\n"
                   f"        document: {json.dumps(want_body, ensure_ascii=False, sort_keys=True)}\n"
                   f"        wagate:   {json.dumps(body, ensure_ascii=False, sort_keys=True)}")
        return
    time.sleep(QUIET_WAIT)
    new = session.contact_received()[before_contact:]
    if new or session.phone() != before_phone:
        fail(name, f"a refused operation changed the sandbox: contact got {new}")
        return
    ok(f"{name}  (documented error; nothing reached the contact or the phone)")


# ---------------------------------------------------------------- curl


def run_curl(cmd):
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"curl exited {p.returncode}: {p.stderr.strip()[-300:]}")
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"not JSON: {p.stdout[:300]!r}") from None


# The order the curl examples run in (each message operation has its own
# target where it matters; the chat is deleted last).
CURL_ORDER = [
    ("Edit Message", ""), ("Pin Message", ""), ("Unpin Message", ""),
    ("React to Message", "Add Reaction"), ("React to Message", "Remove Reaction"),
    ("Star Message", "Star"), ("Star Message", "Unstar"),
    ("Delete Message", ""),
    ("Archive Chat", ""), ("Unarchive Chat", ""), ("Mark Chat as Unread", ""), ("Delete Chat", ""),
]
PRECONDITIONS = {  # the opposite state, checked before the call so the effect is the call's
    "Archive Chat": phone_chat("archived", True),
    "Unarchive Chat": phone_chat("archived", False),
    "Mark Chat as Unread": phone_chat("markedUnread", True),
    "Delete Chat": phone_chat("deleted", True),
}


def curl_examples(examples, errors):
    log("curl examples (session 1)")
    by_key = {(e["title"], e["label"]): e for e in examples}
    unknown = set(by_key) - set(CURL_ORDER)
    missing = set(CURL_ORDER) - set(by_key)
    for t, l in sorted(unknown):
        fail(f"curl: {t} {l}".strip(), "the document has an example this runner does not know how to check")
    for t, l in sorted(missing):
        fail(f"curl: {t} {l}".strip(), "the document no longer has this example")
    s = Session("curl")
    m1 = s.send("A message for the curl examples to edit, pin, react to and star")
    m2 = s.send("A message for the curl example to delete")

    def runner(ex, mid):
        cmd = substitute(ex["cmd"], s.id, s.key, mid)
        leftover = [p for p in (DOC_BASE, DOC_SESSION, DOC_KEY) + DOC_MSG_PLACEHOLDERS if re.search(r"\b" + re.escape(p) + r"\b", cmd)]
        if leftover or s.id not in cmd or s.key not in cmd:
            raise RuntimeError(f"substitution incomplete ({leftover}): {cmd}")
        return lambda: run_curl(cmd)

    # the documented errors, through the examples' own commands, before the chat goes
    if "Edit Message" in {t for t, _ in by_key} and "Delete Message" in {t for t, _ in by_key}:
        pin = by_key.get(("Pin Message", ""))
        for title, ex, mid, why in (
            ("Cannot Edit Message", by_key[("Edit Message", "")], s.inbound, "the contact's message"),
            ("Cannot Delete Message", by_key[("Delete Message", "")], s.inbound, "the contact's message"),
            ("Message Not Found", pin, "3EB0" + "0" * 18, "an unknown id"),
        ):
            if title not in errors:
                fail(f"curl: error {title}", "the document no longer documents this error")
                continue
            check_refused(s, f"curl: {ex['name']} with {why} -> error '{title}'", runner(ex, mid), errors[title])

    for key in CURL_ORDER:
        ex = by_key.get(key)
        if ex is None:
            continue
        mid = m2 if ex["title"] == "Delete Message" else m1
        payload = curl_payload(ex["cmd"])
        pre = PRECONDITIONS.get(ex["title"])
        if ex["title"] == "Star Message":
            pre = phone_starred(mid, payload.get("star", True) if payload else True)
        check(s, f"curl: {ex['name']}", runner(ex, mid), doc_body(ex["body"]),
              effect_of(ex["title"], ex["label"], mid, payload), pre)


# ---------------------------------------------------------------- JavaScript and Python


def functions(code, lang):
    """Maps the document's section title to (function name, parameter names), from
    the comment that precedes each function ("// Archive chat" -> "Archive Chat")."""
    if lang == "javascript":
        pat = re.compile(r"^// (.+)\n(?:async )?function (\w+)\(([^)]*)\)", re.M)
    else:
        pat = re.compile(r"^# (.+)\ndef (\w+)\(([^)]*)\):", re.M)
    return {c.strip().lower(): (f, [p.strip() for p in ps.split(",") if p.strip()]) for c, f, ps in pat.findall(code)}


def split_usage(code, lang):
    marker = "// Usage" if lang == "javascript" else "# Usage"
    k = code.index(marker)
    return code[:k], code[k:]


def reindent_python(code):
    """The document's Python lost its indentation (def bodies are flush left). The
    only change: indent a def's body, from the line after `def ...:` through its
    `return` line, by four spaces."""
    out, inside = [], False
    for line in code.splitlines():
        if inside:
            out.append("    " + line)
            if line.startswith("return"):
                inside = False
        else:
            out.append(line)
            inside = bool(re.match(r"def \w+\(.*\):$", line))
    return "\n".join(out) + "\n"


ARG_VALUES = {"chatId": "chat", "chat_id": "chat", "messageId": "msg", "message_id": "msg",
              "emoji": "emoji", "newText": "text", "text": "text", "new_text": "text"}


def args_for(params, chat, msg=None, emoji=None, text=None):
    vals = {"chat": chat, "msg": msg, "emoji": emoji, "text": text}
    return [vals[ARG_VALUES[p]] for p in params]


def code_examples(lang, code, examples):
    title = "JavaScript" if lang == "javascript" else "Python"
    log(f"{title} examples (session {2 if lang == 'javascript' else 3})")
    if code is None:
        fail(f"{lang}: code", "the document has no such section")
        return
    s = Session(lang)
    usage_msg = s.send(f"A message for the {title} example's usage lines")
    harness_msg = s.send(f"A message for the {title} harness")
    docs = {e["title"].lower(): e for e in examples}
    fns = functions(code, lang)
    if not fns:
        fail(f"{lang}: functions", "found no functions in the document's code")
        return
    for t in fns:
        if t not in docs:
            fail(f"{lang}: {t}", "no operation of that title in the document")
            return

    ext = "js" if lang == "javascript" else "py"
    prelude, usage = split_usage(code, lang)
    if lang == "python" and reindent_python(prelude) != prelude:
        prelude = reindent_python(prelude)
        log("  note  the document's Python has no indentation: def bodies indented by 4 spaces to run it")
    as_written = substitute(prelude + usage, s.id, s.key, usage_msg)
    path = os.path.join(WORK, f"example.{ext}")
    with open(path, "w", encoding="utf-8") as f:
        f.write(as_written)
    lib = substitute(prelude, s.id, s.key)
    if lang == "javascript":
        lib += "\nmodule.exports = { " + ", ".join(f for f, _ in fns.values()) + " };\n"
    libpath = os.path.join(WORK, f"chat_{lang}_lib.{ext}")
    with open(libpath, "w", encoding="utf-8") as f:
        f.write(lib)

    # 1. The file as written (usage lines included): it must exit 0 (an unhandled
    #    rejection or exception fails it), and each usage line's effect must show.
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    cmd = ["node", path] if lang == "javascript" else [sys.executable, path]
    before = len(s.contact_received())
    if s.chat_view()["archived"]:
        fail(f"{lang}: as written", "precondition: the chat is already archived")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    if p.returncode != 0:
        fail(f"{lang}: the document's code as written", f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[-600:]}")
    else:
        ok(f"{lang}: the document's code as written ran and exited 0")
        usage_calls = re.findall(r"^(\w+)\((.*)\);?$", substitute(usage, s.id, s.key, usage_msg), re.M)
        inv = {f: t for t, (f, _) in fns.items()}
        for fname, argtext in usage_calls:
            t = inv.get(fname)
            if t is None:
                fail(f"{lang}: usage {fname}", "calls a function the document does not define")
                continue
            params = fns[t][1]
            args = json.loads("[" + argtext.replace("'", '"') + "]")
            named = dict(zip(params, args))
            payload = {"text": named.get("newText"), "emoji": named.get("emoji")}
            mid = named.get("messageId") or named.get("message_id")
            ex = docs[t]
            why = wait_effect(s, effect_of(ex["title"], "", mid, payload), before)
            name = f"{lang}: as written: {fname}({argtext})"
            if why:
                fail(name + " [sandbox view]", why)
            else:
                ok(f"{name}  ({effect_of(ex['title'], '', mid, payload)[2]})")

    # 2. The harness: each function called, its result compared with the documented body.
    def call(fname, args):
        if lang == "javascript":
            q = subprocess.run(["node", os.path.join(HERE, "harness.js"), libpath, fname, json.dumps(args)],
                               capture_output=True, text=True, timeout=60, env=env)
            if q.returncode != 0:
                raise RuntimeError(q.stderr.strip()[-600:])
            return json.loads(q.stdout)
        ns = {"__name__": "chat_python_lib"}
        exec(compile(lib, libpath, "exec"), ns)  # noqa: S102 - the document's own code
        return ns[fname](*args)

    def step(t, effect, pre=None, **vals):
        fname, params = fns[t]
        args = args_for(params, CHAT, **vals)
        check(s, f"{lang}: {fname}({', '.join(json.dumps(a, ensure_ascii=False) for a in args)})",
              lambda: call(fname, args), doc_body(docs[t]["body"]), effect, pre)

    if "edit message" in fns:
        text = f"Edited through the {title} harness"
        step("edit message", received("edit", harness_msg, text=text), msg=harness_msg, text=text)
    if "react to message" in fns:
        step("react to message", received("reaction", harness_msg, emoji="🎉"), msg=harness_msg, emoji="🎉")
        step("react to message", received("reaction", harness_msg, emoji=""), msg=harness_msg, emoji="")
    if "archive chat" in fns:
        # the usage lines archived the chat: unarchive it (plain request) so the archive shows
        api("POST", f"/sessions/{s.id}/chats/{CHAT}/unarchive", s.key)
        wait_effect(s, phone_chat("archived", False), 0)
        step("archive chat", phone_chat("archived", True), phone_chat("archived", True))
    if "delete chat" in fns:
        step("delete chat", phone_chat("deleted", True), phone_chat("deleted", True))
    for t in fns:
        if t not in ("edit message", "react to message", "archive chat", "delete chat"):
            fail(f"{lang}: {fns[t][0]}", "the harness does not know this function")


def main():
    try:
        examples, errors, js, py = parse_doc(DOC)
    except (OSError, ValueError) as e:
        log(f"cannot read the examples from {DOC}: {e}")
        return 2
    log(f"{DOC}: {len(examples)} curl examples, {len(errors)} error bodies, "
        f"JavaScript {'found' if js else 'MISSING'}, Python {'found' if py else 'MISSING'}")
    try:
        curl_examples(examples, errors)
        code_examples("javascript", js, examples)
        code_examples("python", py, examples)
    except SetupError as e:
        fail("setup", str(e))
    except Exception as e:  # noqa: BLE001 - e.g. the document's layout changed
        fail("runner", f"{type(e).__name__}: {e}")
    log("")
    if os.environ.get("EXAMPLES_STARTED"):
        log(f"run took {time.time() - int(os.environ['EXAMPLES_STARTED']):.0f} s (build and start included)")
    if failed:
        log("failed: " + "; ".join(failed))
    log(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
