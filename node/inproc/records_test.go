package inproc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dsn-project/dsn"
)

func TestRecords(t *testing.T) {
	ctx := context.Background()
	n := NewNetwork()
	a, b := n.Add("a"), n.Add("b")
	if got, err := b.GetRecords(ctx, "/k"); err != nil || len(got) != 0 {
		t.Fatalf("GetRecords(unknown key) = %q, %v, want none", got, err)
	}
	for _, v := range []string{"v1", "v2", "v1"} {
		if err := a.PutRecord(ctx, "/k", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.GetRecords(ctx, "/k")
	if err != nil || fmt.Sprintf("%s", got) != "[v1 v2]" {
		t.Fatalf("GetRecords = %s, %v, want [v1 v2] (one copy each, latest first)", got, err)
	}
	for i := range MaxRecordsPerKey + 3 {
		a.PutRecord(ctx, "/many", fmt.Append(nil, i))
	}
	if got, _ := b.GetRecords(ctx, "/many"); len(got) != MaxRecordsPerKey || string(got[0]) != fmt.Sprint(MaxRecordsPerKey+2) {
		t.Errorf("GetRecords after %d puts = %d values, first %q; want the %d latest", MaxRecordsPerKey+3, len(got), got[0], MaxRecordsPerKey)
	}
	if err := a.PutRecord(ctx, "/k", make([]byte, MaxRecordSize+1)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("PutRecord(oversized) = %v", err)
	}
	if err := a.PutRecord(ctx, strings.Repeat("k", MaxRecordKeySize+1), nil); err == nil {
		t.Error("PutRecord(oversized key) succeeded")
	}
	n.Kill("a")
	if _, err := a.GetRecords(ctx, "/k"); !errors.Is(err, dsn.ErrUnreachable) {
		t.Errorf("GetRecords on a killed peer = %v, want ErrUnreachable", err)
	}
}
