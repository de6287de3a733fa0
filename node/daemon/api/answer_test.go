package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A list of a few MiB, as a node holding thousands of deals answers, is
// read whole; an answer over the client's bound is an error that says so,
// not a list cut short.
func TestLargeAnswers(t *testing.T) {
	var list Deals
	for range 12000 {
		list.Deals = append(list.Deals, Deal{Provider: strings.Repeat("p", 52), Shard: strings.Repeat("s", 64)})
	}
	body, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) < 2<<20 {
		t.Fatalf("test answer of %d bytes, want over 2 MiB", len(body))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c := New(strings.TrimPrefix(srv.URL, "http://"), "token")
	got, err := c.Deals(context.Background())
	if err != nil || len(got.Deals) != len(list.Deals) {
		t.Fatalf("Deals() of a %d-byte answer = %d deals, %v; want %d", len(body), len(got.Deals), err, len(list.Deals))
	}
	old := maxAnswer
	maxAnswer = 1 << 20
	defer func() { maxAnswer = old }()
	if _, err := c.Deals(context.Background()); err == nil || !strings.Contains(err.Error(), "over 1 MiB") {
		t.Fatalf("Deals() of a %d-byte answer over a 1 MiB bound = %v, want an error saying the answer is over it", len(body), err)
	}
}
