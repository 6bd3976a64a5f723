package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/wagate-dev/wagate/internal/wasim"
)

// Group is the simulator's truth about a group (GET /sandbox/groups/{id}).
type Group struct {
	JID            string             `json:"jid"`
	Subject        string             `json:"subject"`
	Description    string             `json:"description"`
	Creator        string             `json:"creator"`
	Announce       bool               `json:"announce"`
	Locked         bool               `json:"locked"`
	AddressingMode string             `json:"addressingMode"`
	InviteCode     string             `json:"inviteCode"`
	Participants   []GroupParticipant `json:"participants"`
}

// GroupParticipant is one member of a Group.
type GroupParticipant struct {
	Phone string `json:"phone"`
	JID   string `json:"jid"`
	LID   string `json:"lid"`
	Role  string `json:"role"` // member, admin, superadmin
}

// GroupParticipantResult is the outcome of one participant change: Error
// is 0 on success, else WhatsApp's code (404 not on WhatsApp or not a
// member, 409 already a member, 403 the creator cannot be changed).
type GroupParticipantResult struct {
	Phone string `json:"phone"`
	Error int    `json:"error,omitempty"`
}

// GroupControl is the group part of the simulated side (Local and Remote
// implement it). Errors wrap wasim.ErrGroupNotFound, ErrNotGroupMember,
// ErrNotGroupAdmin, ErrUnknownNumber or ErrInvalidRequest, also through
// Remote, so callers can tell 404 from 403 from 400.
type GroupControl interface {
	// CreateGroup creates a group owned by owner (a simulated number); lid
	// makes it LID-addressed. It returns the group JID.
	CreateGroup(ctx context.Context, subject, owner string, participants []string, lid bool) (string, error)
	// GroupSend makes the member from send text to the group.
	GroupSend(ctx context.Context, gid, from, text string) (string, error)
	// GroupParticipants is a participant change (add, remove, promote,
	// demote) by the member by.
	GroupParticipants(ctx context.Context, gid, action, by string, phones []string) ([]GroupParticipantResult, error)
	// Group returns the simulator's view of the group.
	Group(ctx context.Context, gid string) (Group, error)
}

var (
	_ GroupControl = Local{}
	_ GroupControl = (*Remote)(nil)
)

// CreateGroup implements GroupControl.
func (l Local) CreateGroup(ctx context.Context, subject, owner string, participants []string, lid bool) (string, error) {
	jid, err := l.Sim.CreateGroupWith(ctx, wasim.GroupSpec{Subject: subject, Owner: owner, Participants: participants, LID: lid})
	if err != nil {
		return "", err
	}
	return jid.String(), nil
}

// GroupSend implements GroupControl.
func (l Local) GroupSend(ctx context.Context, gid, from, text string) (string, error) {
	return l.Sim.GroupSend(ctx, gid, from, text)
}

// GroupParticipants implements GroupControl.
func (l Local) GroupParticipants(ctx context.Context, gid, action, by string, phones []string) ([]GroupParticipantResult, error) {
	res, err := l.Sim.GroupParticipants(ctx, gid, action, by, phones)
	if err != nil {
		return nil, err
	}
	out := make([]GroupParticipantResult, len(res))
	for i, r := range res {
		out[i] = GroupParticipantResult{Phone: r.Phone, Error: r.Error}
	}
	return out, nil
}

// Group implements GroupControl.
func (l Local) Group(_ context.Context, gid string) (Group, error) {
	v, ok := l.Sim.Group(gid)
	if !ok {
		return Group{}, wasim.ErrGroupNotFound
	}
	g := Group{
		JID: v.JID.String(), Subject: v.Subject, Description: v.Description, Creator: v.Creator, Announce: v.Announce,
		Locked: v.Locked, AddressingMode: v.AddressingMode, InviteCode: v.InviteCode, Participants: []GroupParticipant{},
	}
	for _, p := range v.Participants {
		g.Participants = append(g.Participants, GroupParticipant{Phone: p.Phone, JID: p.JID.String(), LID: p.LID.String(), Role: p.Role})
	}
	return g, nil
}

// groupErrors are the errors that keep their identity through Remote.
var groupErrors = map[string]error{
	"group_not_found":  wasim.ErrGroupNotFound,
	"not_group_member": wasim.ErrNotGroupMember,
	"not_group_admin":  wasim.ErrNotGroupAdmin,
	"unknown_number":   wasim.ErrUnknownNumber,
	"invalid_request":  wasim.ErrInvalidRequest,
}

func groupErrorCode(err error) string {
	for code, e := range groupErrors {
		if errors.Is(err, e) {
			return code
		}
	}
	return ""
}

type groupRequest struct {
	GID          string   `json:"gid,omitempty"`
	Subject      string   `json:"subject,omitempty"`
	Owner        string   `json:"owner,omitempty"`
	Participants []string `json:"participants,omitempty"`
	LID          bool     `json:"lid,omitempty"`
	From         string   `json:"from,omitempty"`
	Text         string   `json:"text,omitempty"`
	Action       string   `json:"action,omitempty"`
	By           string   `json:"by,omitempty"`
}

type groupResponse struct {
	Error     string                   `json:"error,omitempty"`
	ErrorCode string                   `json:"errorCode,omitempty"`
	Result    string                   `json:"result,omitempty"`
	Results   []GroupParticipantResult `json:"results,omitempty"`
	Group     *Group                   `json:"group,omitempty"`
}

// groupOpPrefix is where ControlHandler serves the group operations.
const groupOpPrefix = ControlPrefix + "group/"

// serveGroupControl serves POST groupOpPrefix+{create,send,participants,view}.
func serveGroupControl(c Control, w http.ResponseWriter, r *http.Request) {
	gc, ok := c.(GroupControl)
	if !ok {
		http.NotFound(w, r)
		return
	}
	var req groupRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	var resp groupResponse
	var err error
	switch strings.TrimPrefix(r.URL.Path, groupOpPrefix) {
	case "create":
		resp.Result, err = gc.CreateGroup(ctx, req.Subject, req.Owner, req.Participants, req.LID)
	case "send":
		resp.Result, err = gc.GroupSend(ctx, req.GID, req.From, req.Text)
	case "participants":
		resp.Results, err = gc.GroupParticipants(ctx, req.GID, req.Action, req.By, req.Participants)
	case "view":
		var g Group
		g, err = gc.Group(ctx, req.GID)
		resp.Group = &g
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		resp = groupResponse{Error: err.Error(), ErrorCode: groupErrorCode(err)}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (r *Remote) groupCall(ctx context.Context, op string, req groupRequest) (groupResponse, error) {
	var resp groupResponse
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(r.BaseURL, "/")+groupOpPrefix+op, bytes.NewReader(body))
	if err != nil {
		return resp, err
	}
	hr.Header.Set("Content-Type", "application/json")
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(hr)
	if err != nil {
		return resp, fmt.Errorf("sandbox control group/%s: %w", op, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return resp, fmt.Errorf("sandbox control group/%s: %s", op, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		return resp, fmt.Errorf("sandbox control group/%s: %w", op, err)
	}
	if resp.Error != "" {
		if sentinel, ok := groupErrors[resp.ErrorCode]; ok {
			return resp, fmt.Errorf("%w (%s)", sentinel, resp.Error)
		}
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

// CreateGroup implements GroupControl.
func (r *Remote) CreateGroup(ctx context.Context, subject, owner string, participants []string, lid bool) (string, error) {
	resp, err := r.groupCall(ctx, "create", groupRequest{Subject: subject, Owner: owner, Participants: participants, LID: lid})
	return resp.Result, err
}

// GroupSend implements GroupControl.
func (r *Remote) GroupSend(ctx context.Context, gid, from, text string) (string, error) {
	resp, err := r.groupCall(ctx, "send", groupRequest{GID: gid, From: from, Text: text})
	return resp.Result, err
}

// GroupParticipants implements GroupControl.
func (r *Remote) GroupParticipants(ctx context.Context, gid, action, by string, phones []string) ([]GroupParticipantResult, error) {
	resp, err := r.groupCall(ctx, "participants", groupRequest{GID: gid, Action: action, By: by, Participants: phones})
	return resp.Results, err
}

// Group implements GroupControl.
func (r *Remote) Group(ctx context.Context, gid string) (Group, error) {
	resp, err := r.groupCall(ctx, "view", groupRequest{GID: gid})
	if err != nil || resp.Group == nil {
		return Group{}, err
	}
	return *resp.Group, nil
}
