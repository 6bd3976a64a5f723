package wasim

import (
	"context"
	"encoding/binary"
	"slices"
	"strconv"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// minPreKeys is whatsmeow's MinPreKeyCount: below it the server asks for more.
const minPreKeys = 5

// handleIQ routes a get/set IQ from a client.
func (s *Server) handleIQ(c *conn, node *waBinary.Node) {
	ag := node.AttrGetter()
	xmlns := ag.OptionalString("xmlns")
	typ := ag.OptionalString("type")
	var child waBinary.Node
	if ch := node.GetChildren(); len(ch) > 0 {
		child = ch[0]
	}
	s.mu.Lock()
	dev := c.dev
	s.mu.Unlock()

	// Before login only pairing IQs are allowed.
	if dev == nil {
		if xmlns == "md" && child.Tag == "link_code_companion_reg" {
			s.handleLinkCode(c, node, child)
			return
		}
		if xmlns == "w:p" {
			c.send(iqResult(node))
			return
		}
		c.log.Warn().Str("xmlns", xmlns).Str("child", child.Tag).Msg("iq before login")
		c.send(iqError(node, 401, "not-authorized"))
		return
	}

	switch {
	case xmlns == "w:p":
		c.send(iqResult(node))
	case xmlns == "passive":
		c.send(iqResult(node))
	case xmlns == "encrypt" && typ == "get" && child.Tag == "count":
		s.mu.Lock()
		n := len(dev.preKeys)
		s.mu.Unlock()
		c.send(iqResult(node, waBinary.Node{Tag: "count", Attrs: waBinary.Attrs{"value": strconv.Itoa(n)}}))
	case xmlns == "encrypt" && typ == "set" && node.GetChildByTag("list").Tag == "list":
		s.handlePreKeyUpload(c, dev, node)
	case xmlns == "encrypt" && typ == "get" && child.Tag == "key":
		s.handlePreKeyFetch(c, dev, node, child)
	case xmlns == "usync" && child.Tag == "usync":
		s.handleUsync(c, dev, node, child)
	case xmlns == "privacy" && typ == "set" && child.Tag == "tokens":
		s.countSent("iq:privacy-tokens")
		c.send(iqResult(node))
	case xmlns == "privacy" && typ == "get" && child.Tag == "privacy":
		cats := []string{"last", "online", "profile", "status", "groupadd", "readreceipts", "calladd"}
		values := map[string]string{"last": "all", "online": "all", "profile": "all", "status": "contacts", "groupadd": "all", "readreceipts": "all", "calladd": "all"}
		nodes := make([]waBinary.Node, len(cats))
		for i, cat := range cats {
			nodes[i] = waBinary.Node{Tag: "category", Attrs: waBinary.Attrs{"name": cat, "value": values[cat]}}
		}
		c.send(iqResult(node, waBinary.Node{Tag: "privacy", Content: nodes}))
	case xmlns == "blocklist":
		s.handleBlocklist(c, dev, node, typ)
	case xmlns == "w:profile:picture" && typ == "set":
		s.handleGroupPictureSet(c, dev, node) // group_picture.go
	case xmlns == "w:profile:picture" && typ == "get":
		s.handleProfilePicture(c, node)
	case xmlns == "w:sync:app:state" && child.Tag == "sync":
		s.handleAppStateIQ(c, dev, node, child)
	case xmlns == "md" && child.Tag == "remove-companion-device":
		s.handleRemoveCompanion(c, dev, node, child)
	case xmlns == "md" && child.Tag == "link_code_companion_reg":
		s.handleLinkCode(c, node, child)
	case xmlns == "w:m" && child.Tag == "media_conn":
		s.countSent("iq:media_conn")
		c.send(iqResult(node, waBinary.Node{Tag: "media_conn", Attrs: waBinary.Attrs{
			"auth": s.mediaAuth(dev.jid()), "ttl": strconv.Itoa(mediaAuthTTL), "auth_ttl": strconv.Itoa(mediaAuthTTL), "max_buckets": "12",
		}, Content: []waBinary.Node{{Tag: "host", Attrs: waBinary.Attrs{"hostname": MediaHost}}}}))
	case xmlns == "w:g2":
		s.handleGroupIQ(c, dev, node, typ, child) // group.go, group_iq.go
	default:
		key := xmlns + "/" + typ + "/" + child.Tag
		s.statsMu.Lock()
		s.unknownIQs[key]++
		s.statsMu.Unlock()
		c.log.Warn().Str("iq", key).Msg("unknown iq answered with empty result")
		if s.opts.Strict {
			s.violation("unknown iq %s", key)
		}
		c.send(iqResult(node))
	}
}

func (s *Server) handleLinkCode(c *conn, node *waBinary.Node, child waBinary.Node) {
	ag := child.AttrGetter()
	switch ag.OptionalString("stage") {
	case "companion_hello":
		jid, _ := child.Attrs["jid"].(types.JID)
		wrapped, _ := child.GetChildByTag("link_code_pairing_wrapped_companion_ephemeral_pub").Content.([]byte)
		noise, _ := child.GetChildByTag("companion_server_auth_key_pub").Content.([]byte)
		s.mu.Lock()
		reg := c.reg
		s.mu.Unlock()
		if reg == nil || len(wrapped) != 80 || jid.User == "" {
			s.violation("malformed link_code_companion_reg companion_hello")
			c.send(iqError(node, 400, "bad-request"))
			return
		}
		if string(noise) != string(c.noisePub[:]) {
			s.violation("link code: companion_server_auth_key_pub is not the connection's noise key")
		}
		ref := []byte(randomHex(16))
		s.mu.Lock()
		s.accountLocked(jid.User) // the number must exist to be typed into
		s.pendingCode[normalizePhone(jid.User)] = &codePairing{reg: reg, pn: jid.User, wrapped: wrapped, ref: ref, finish: make(chan *waBinary.Node, 1)}
		s.mu.Unlock()
		c.send(iqResult(node, waBinary.Node{Tag: "link_code_companion_reg", Content: []waBinary.Node{
			{Tag: "link_code_pairing_ref", Content: ref},
		}}))
	case "companion_finish":
		s.mu.Lock()
		var cp *codePairing
		for _, p := range s.pendingCode {
			if p.reg == c.reg {
				cp = p
			}
		}
		s.mu.Unlock()
		if cp == nil {
			c.send(iqError(node, 404, "item-not-found"))
			return
		}
		ref, _ := child.GetChildByTag("link_code_pairing_ref").Content.([]byte)
		if string(ref) != string(cp.ref) {
			s.violation("link code: companion_finish with a wrong pairing ref")
		}
		c.send(iqResult(node))
		n := child
		select {
		case cp.finish <- &n:
		default:
		}
	default:
		c.send(iqError(node, 400, "bad-request"))
	}
}

func (s *Server) handleRemoveCompanion(c *conn, dev *companion, node *waBinary.Node, child waBinary.Node) {
	jid, _ := child.Attrs["jid"].(types.JID)
	s.mu.Lock()
	target := s.companionLocked(jid)
	if target == nil || target.acct != dev.acct {
		s.mu.Unlock()
		c.send(iqError(node, 404, "item-not-found"))
		return
	}
	s.removeCompanionLocked(target)
	s.mu.Unlock()
	c.send(iqResult(node))
}

func keyNode(tag string, id uint32, pub []byte, sig []byte) waBinary.Node {
	var idb [4]byte
	binary.BigEndian.PutUint32(idb[:], id)
	content := []waBinary.Node{{Tag: "id", Content: idb[1:]}, {Tag: "value", Content: pub}}
	if sig != nil {
		content = append(content, waBinary.Node{Tag: "signature", Content: sig})
	}
	return waBinary.Node{Tag: tag, Content: content}
}

func (s *Server) handlePreKeyUpload(c *conn, dev *companion, node *waBinary.Node) {
	ident, _ := node.GetChildByTag("identity").Content.([]byte)
	reg, _ := node.GetChildByTag("registration").Content.([]byte)
	skey := node.GetChildByTag("skey")
	skID, _ := skey.GetChildByTag("id").Content.([]byte)
	skVal, _ := skey.GetChildByTag("value").Content.([]byte)
	skSig, _ := skey.GetChildByTag("signature").Content.([]byte)
	if len(ident) != 32 || len(skVal) != 32 || len(skSig) != 64 {
		s.violation("prekey upload with malformed identity or signed prekey")
		c.send(iqError(node, 400, "bad-request"))
		return
	}
	var keysIn []uploadedPreKey
	list := node.GetChildByTag("list")
	for _, k := range list.GetChildren() {
		id, _ := k.GetChildByTag("id").Content.([]byte)
		val, _ := k.GetChildByTag("value").Content.([]byte)
		if k.Tag != "key" || len(val) != 32 {
			s.violation("prekey upload with a malformed key")
			continue
		}
		keysIn = append(keysIn, uploadedPreKey{ID: beUint(id), Pub: [32]byte(val)})
	}
	s.mu.Lock()
	if [32]byte(ident) != dev.identityPub {
		s.mu.Unlock()
		s.violation("prekey upload with an identity key that differs from pairing")
		c.send(iqError(node, 400, "bad-request"))
		return
	}
	dev.regID = beUint(reg)
	dev.skeyID, dev.skeyPub, dev.skeySig = beUint(skID), [32]byte(skVal), [64]byte(skSig)
	for _, k := range keysIn {
		if !slices.ContainsFunc(dev.preKeys, func(e uploadedPreKey) bool { return e.ID == k.ID }) {
			dev.preKeys = append(dev.preKeys, k)
		}
	}
	s.persistCompanionLocked(dev)
	s.mu.Unlock()
	c.send(iqResult(node))
}

// checkLowPreKeysLocked tells a connected companion to upload more prekeys.
func (s *Server) checkLowPreKeysLocked(d *companion) {
	if len(d.preKeys) >= minPreKeys || d.conn == nil {
		return
	}
	c := d.conn
	n := len(d.preKeys)
	go c.send(waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
		"from": types.ServerJID, "type": "encrypt", "id": randomHex(8), "t": unixNow(),
	}, Content: []waBinary.Node{{Tag: "count", Attrs: waBinary.Attrs{"value": strconv.Itoa(n)}}}})
}

func (s *Server) handlePreKeyFetch(c *conn, dev *companion, node *waBinary.Node, child waBinary.Node) {
	ctx := c.ctx
	var users []waBinary.Node
	for _, u := range child.GetChildren() {
		jid, ok := u.Attrs["jid"].(types.JID)
		if u.Tag != "user" || !ok {
			continue
		}
		users = append(users, s.bundleNode(ctx, jid))
	}
	c.send(iqResult(node, waBinary.Node{Tag: "list", Content: users}))
}

// bundleNode answers one <user> of a prekey fetch, echoing the JID as asked.
func (s *Server) bundleNode(ctx context.Context, jid types.JID) waBinary.Node {
	notFound := waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: []waBinary.Node{
		{Tag: "error", Attrs: waBinary.Attrs{"code": "404", "text": "item-not-found"}},
	}}
	s.mu.Lock()
	acct := s.lookupAccountLocked(jid.ToNonAD())
	if acct == nil {
		s.mu.Unlock()
		return notFound
	}
	var regID uint32
	var ident [32]byte
	var skeyID uint32
	var skeyPub [32]byte
	var skeySig [64]byte
	var otk *uploadedPreKey
	if jid.Device == 0 {
		sim := acct.primary
		s.mu.Unlock()
		r, id, sk, pk, err := sim.bundle(ctx)
		if err != nil {
			return notFound
		}
		regID, ident, skeyID, skeyPub, skeySig = r, id, sk.KeyID, *sk.Pub, *sk.Signature
		otk = &uploadedPreKey{ID: pk.KeyID, Pub: *pk.Pub}
	} else {
		d := acct.companions[jid.Device]
		if d == nil {
			s.mu.Unlock()
			return notFound
		}
		regID, ident, skeyID, skeyPub, skeySig = d.regID, d.identityPub, d.skeyID, d.skeyPub, d.skeySig
		if len(d.preKeys) > 0 {
			pk := d.preKeys[0]
			d.preKeys = d.preKeys[1:]
			otk = &pk
			s.persistCompanionLocked(d)
			s.checkLowPreKeysLocked(d)
		}
		s.mu.Unlock()
	}
	var regb [4]byte
	binary.BigEndian.PutUint32(regb[:], regID)
	content := []waBinary.Node{
		{Tag: "registration", Content: regb[:]},
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: ident[:]},
		keyNode("skey", skeyID, skeyPub[:], skeySig[:]),
	}
	if otk != nil {
		content = append(content, keyNode("key", otk.ID, otk.Pub[:], nil))
	}
	return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: content}
}

func (s *Server) handleBlocklist(c *conn, dev *companion, node *waBinary.Node, typ string) {
	s.mu.Lock()
	acct := dev.acct
	if typ == "set" {
		for _, item := range node.GetChildrenByTag("item") {
			jid, _ := item.Attrs["jid"].(types.JID)
			target := s.accountByJIDLocked(jid)
			canon := jid.ToNonAD().String()
			if target != nil {
				canon = target.lidJID().String()
			}
			switch item.AttrGetter().OptionalString("action") {
			case "block":
				if !slices.Contains(acct.blocklist, canon) {
					acct.blocklist = append(acct.blocklist, canon)
				}
			case "unblock":
				acct.blocklist = slices.DeleteFunc(acct.blocklist, func(x string) bool { return x == canon })
			default:
				s.mu.Unlock()
				s.violation("blocklist item without block/unblock action")
				c.send(iqError(node, 400, "bad-request"))
				return
			}
		}
		s.persistAccountLocked(acct)
	}
	items := make([]waBinary.Node, 0, len(acct.blocklist))
	for _, j := range acct.blocklist {
		jid, err := types.ParseJID(j)
		if err != nil {
			continue
		}
		items = append(items, waBinary.Node{Tag: "item", Attrs: waBinary.Attrs{"jid": jid}})
	}
	s.mu.Unlock()
	c.send(iqResult(node, waBinary.Node{Tag: "list", Attrs: waBinary.Attrs{"dhash": randomHex(4)}, Content: items}))
}

// Blocklist returns the account's blocked users as LID JID strings (the
// form whatsmeow sends).
func (s *Server) Blocklist(phone string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[normalizePhone(phone)]; a != nil {
		return slices.Clone(a.blocklist)
	}
	return nil
}

func (s *Server) handleProfilePicture(c *conn, node *waBinary.Node) {
	target, _ := node.Attrs["target"].(types.JID)
	s.mu.Lock()
	if target.Server == types.GroupServer {
		s.groupPictureLocked(c, c.dev, node, target) // group_picture.go
		s.mu.Unlock()
		return
	}
	acct := s.accountByJIDLocked(target)
	var url string
	if acct != nil {
		url = acct.pictureURL
	}
	s.mu.Unlock()
	if url == "" {
		c.send(iqError(node, 404, "item-not-found"))
		return
	}
	c.send(iqResult(node, waBinary.Node{Tag: "picture", Attrs: waBinary.Attrs{
		"id": "1", "url": url, "type": "image", "direct_path": "/v/wasim/" + acct.pn,
	}}))
}
