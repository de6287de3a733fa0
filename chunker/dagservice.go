package chunker

import (
	"context"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// discardDAG is an ipld.DAGService that accepts every node and keeps none.
// The importer only adds nodes while building a file's DAG (it never reads
// them back), so discarding is enough to compute the root CID without
// storing blocks: chunk bytes are stored sealed, elsewhere.
type discardDAG struct{}

var _ ipld.DAGService = discardDAG{}

func (discardDAG) Add(context.Context, ipld.Node) error       { return nil }
func (discardDAG) AddMany(context.Context, []ipld.Node) error { return nil }
func (discardDAG) Remove(context.Context, cid.Cid) error      { return nil }
func (discardDAG) RemoveMany(context.Context, []cid.Cid) error {
	return nil
}

// Get always reports that the node is not found: nothing is kept.
func (discardDAG) Get(_ context.Context, c cid.Cid) (ipld.Node, error) {
	return nil, ipld.ErrNotFound{Cid: c}
}

// GetMany answers every CID with ipld.ErrNotFound.
func (discardDAG) GetMany(_ context.Context, cids []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cids))
	for _, c := range cids {
		out <- &ipld.NodeOption{Err: ipld.ErrNotFound{Cid: c}}
	}
	close(out)
	return out
}
