// Package wasim is a protocol-level fake WhatsApp server for tests.
//
// The real, unmodified whatsmeow client connects to it through two test
// hooks only: an http.Client whose transport dials the simulator
// (Server.HTTPClient / ClientFor, used with SetPreLoginHTTPClient,
// SetWebsocketHTTPClient and SetMediaHTTPClient) and InstallRootKey, which
// makes whatsmeow trust the simulator's test certificate root. Nothing is
// mocked inside the client: it speaks websocket framing, Noise XX, the
// binary XML protocol and Signal to the simulator. The subpackage wasimtest
// has helpers that build such clients for tests; memstore is an in-memory
// whatsmeow store.
//
// # What is simulated
//
//   - Transport: websocket (read limit 16 MiB; permessage-deflate with
//     Options.AcceptCompression), 3-byte frame lengths with the
//     WA header on the first client frame, the Noise XX responder with a
//     test CA (root → intermediate → leaf, XEdDSA-signed, valid from one
//     hour ago), AES-GCM transport and whatsmeow's binary node codec.
//   - Accounts: each phone number is an account with a deterministic LID, a
//     simulated primary device (device 0, with real Signal state) and any
//     number of linked companions (the clients under test). Server.Phone
//     and Server.Contact are two views of the same kind of account.
//     Only numbers they (or pairing) created exist, unless
//     Options.AutoRegister is set: then a usync (devices, contact, lid) or
//     prekey lookup of an unknown number with 7 to 15 digits, not starting
//     with 0, creates its contact on the fly (persisted like any other),
//     except the reserved range ReservedPrefix ("999...", IsReservedNumber),
//     which stays not on WhatsApp. Sandbox mode turns it on.
//   - Pairing: pair-device refs → QR (both the wa.me 5-field and the old
//     4-field form), ADV signing by the phone, pair-success with t, device
//     JID and LID, verification of pair-device-sign, stream error 515;
//     pairing by phone code (link_code_companion_reg, both stages).
//   - Login: the noise key must be the one registered at pairing; unknown or
//     removed devices get <failure reason=401>. Logout removes the device.
//   - Keys and lookups: prekey upload/count/fetch with one-time key
//     consumption and a low-count notification; usync devices, contact
//     (IsOnWhatsApp, LID addressing mode) and lid; privacy tokens; privacy
//     settings; blocklist get/set; profile picture (URL or 404).
//   - Messaging: outbound fan-out per <to>, decryption by the contact's
//     device and by the phone (device-sent copies, peer messages), server
//     ack, delivery receipts from contacts, inbound messages from contacts
//     (PN-addressed with sender_lid or LID-addressed with sender_pn), read
//     receipts (Contact.MarkRead).
//   - Retry receipts (retry.go), both ways: a companion's <receipt
//     type=retry> for a contact's message is answered by encrypting it again
//     under the same id (<enc count=n>; with the receipt's <keys>, on a new
//     session built from them); a contact that cannot decrypt a companion's
//     message sends one itself (keys from the second on, at most 4), and
//     only then is it a violation. Counters "undecryptable",
//     "retry:requested", "retry:received", "retry:answered",
//     "retry:answered-new-session". Contact.ForgetSession and
//     Contact.CorruptSession break a session on purpose. A device decrypts
//     each state of a session record on a fresh copy (decryptRecord; see
//     there for the libsignal behaviour this avoids).
//   - Offline queue: every stanza for a companion is kept until the
//     companion acknowledges it (receipt or nack for messages, ack for
//     receipts and notifications), redelivered on the next login and
//     followed by <ib><offline count=N/></ib>.
//   - App state: the server stores opaque patches per account and
//     collection (version check, 409 with the missing patches, SyncdPatch
//     version filled in, server_sync to the account's other companions). The
//     phone holds the sync key, shares it with each new companion as a peer
//     message, answers key requests, decodes every patch with
//     appstate.Processor (MACs and LTHash verified) into Phone.View, and can
//     make its own changes (Phone.SetArchived, Phone.PushAppState). It
//     publishes the push name (critical_block) and seeds regular_low,
//     regular_high and regular so companions never sit at version 0.
//   - Media: media_conn (w:m) answers with MediaHost and a per-device auth
//     token; the same Handler serves whatsmeow's uploads (POST
//     /mms/<type>/<token>?auth=…&token=…, JSON url/direct_path answer) and
//     downloads (GET of the signed direct_path), blobs in memory or in
//     wasim_media. A simulated device that receives a media message
//     downloads the blob, checks FileEncSHA256, the MAC and FileSHA256 and
//     decrypts it (Received.Media, MimeType, MediaError);
//     Contact.SendImage encrypts and uploads an image the way WhatsApp
//     does, so companions can Download it. The phone's side of expired
//     media (mediaretry.go) keeps each sent message's blob and media key
//     in memory or wasim_media_sent, and an expired file in wasim_media
//     as "expired/<blob id>" until a media retry receipt re-uploads it.
//   - Groups (group*.go): the w:g2 IQs — create, query (GetGroupInfo),
//     participating (GetJoinedGroups), add/remove/promote/demote with a
//     result per participant (error 409 already a member, 404 not on
//     WhatsApp or not a member, 403 the creator's role cannot be changed
//     by others), subject, description (prev must match: 409),
//     announcement, locked, member_add_mode, ephemeral, invite link get
//     and reset, link info and join (406 invalid, 410 revoked), leave.
//     Refusals as WhatsApp answers them: 404 unknown group, 403 not a
//     member, 401 not an admin (only admins change settings, add when
//     member_add_mode is admin_add, remove, promote, demote, get or
//     reset the link; only admins rename or describe a locked group), 406
//     subject over 100 or description over 2048 bytes, 501 communities.
//     Both addressing modes: "pn" (default) and "lid" (Options.LIDGroups,
//     GroupSpec.LID); participants carry the other form (lid= or
//     phone_number=). Every change is a w:gp2 notification to the member
//     companions: <create> (events.JoinedGroup; type "new" at creation,
//     reason "invite" for a link join) to those who joined, the change
//     (events.GroupInfo) to the members before it, removed ones included;
//     a new link goes to the admins. When the last admin leaves, the
//     longest-standing member is promoted.
//     Messages: a companion's group message must carry one skmsg and may
//     carry the SKDM per device in <participants>; the server takes it
//     from members only (announcement groups: admins only; else the ack
//     has error 403, 404 for an unknown group), drops <to> entries for
//     devices that are not members (Counter "group:dropped-non-member"),
//     records a violation when a message to a LID-addressed group lacks
//     addressing_mode="lid",
//     answers phash when the sender's device list is not the group's (so
//     whatsmeow refetches the group), and fans the stanza out to the
//     member companions (from=group, participant=sender device,
//     participant_lid/participant_pn, addressing_mode). Every simulated
//     member phone processes the SKDM and decrypts the skmsg with sender
//     keys (Received.Chat is the group, Encrypted "skmsg") and sends a
//     delivery receipt. Server.GroupSend has a simulated member send: the
//     SKDM only to devices without its current key (Counter
//     "group:skdm"), and a new sender key on its first send after
//     someone left (Counter "group:sender-key-rotated"), as WhatsApp's
//     apps do. whatsmeow itself never rotates its sender key (it keeps
//     one per group and sends the SKDM with every message), so removed
//     members are kept out by the server not delivering to them.
//     Group pictures: SetGroupPhoto (JPEG only, else 406; only admins in
//     a locked group) with a "picture" notification (events.Picture),
//     GetProfilePictureInfo of a group (404 when none, 401 non-members);
//     GroupView.Picture holds the bytes.
//     Control plane: CreateGroup(With), GroupParticipants,
//     GroupSetSubject, GroupLeave, GroupSend(Message), Group, Groups.
//     Persisted in wasim_groups and wasim_group_participants; sender keys
//     in the simulated devices' stores.
//   - History: Phone.SendHistory sends a HistorySyncNotification with the
//     payload inline (InitialHistBootstrapInlinePayload), so no media server
//     is needed.
//   - Faults: DropConnection, StreamError (e.g. "503", "replaced",
//     "device_removed"), RemoteLogout, Freeze (open but silent socket),
//     and InjectFault with the kinds of fault_kinds.go (stream errors
//     with <ack> children of each class, <ping/>, login failures 405,
//     503 and 402, a silent socket, a half-delivered frame, slow and
//     withheld server acks). Acks is the accounting of every stanza sent
//     that expects an ack (message, receipt, notification, call, status)
//     against the acks (or message receipts) received.
//
// # Strict checks
//
// Violations returns protocol violations. These are always recorded:
//
//   - a pin or unpin (PinInChatMessage) without edit="2" — it is NOT
//     delivered as a pin, because real WhatsApp ignores it;
//   - an edit without edit="1", a sender revoke without edit="7" (admin
//     revoke "8"), a reaction without type="reaction", a reaction removal
//     without edit="7", a text message whose type is not "text";
//   - keys in the QR code or the code-pairing bundle that do not match the
//     connection, an invalid device signature in pair-device-sign, prekey
//     uploads with a different identity key, app-state patches the phone
//     cannot verify, messages the simulated devices cannot decrypt or that
//     go to unknown devices;
//   - media: uploads without a valid media_conn auth token, whose token is
//     not the SHA-256 of the body or that are not AES-CBC ciphertext plus a
//     10-byte MAC; downloads of direct paths the simulator did not sign;
//     attachments the recipient cannot verify or decrypt; image messages
//     without type="media" or <enc mediatype="image">.
//
// With Options.Strict, unknown IQs and unknown stanzas are violations too
// (without it they are answered with an empty result, logged and counted in
// UnknownIQs), and so are unknown HTTP requests and a download whose
// mms-type differs from the upload's, so a whatsmeow upgrade that sends
// something new is noticed.
//
// # Persistence
//
// By default all state is in memory. With Options.DB the simulator keeps
// its state in Postgres, in its own tables (prefix wasim_), and commits
// every change before answering, so a simulator process can be killed and
// restarted without losing linked devices or queued messages. A new
// device is committed (with its account) before the client gets
// pair-success, since the client stores it from then on; writes are
// retried and those that still fail are kept in PersistErrors; loading
// never drops a linked device because a row of its account is missing.
package wasim
