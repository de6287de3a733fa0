package chunker

import (
	"bytes"
	"io"
)

// vector is a file and the root CID that kubo prints for it.
type vector struct {
	name   string
	size   int64
	random bool // bytes from randomBytes(4, size); otherwise byte i is i mod 251
	spec   string
	want   string
}

func (v vector) reader() io.Reader {
	if v.random {
		return bytes.NewReader(randomBytes(4, int(v.size)))
	}
	return &patternReader{n: v.size}
}

// vectors were printed by kubo v0.43.1 (built from its module source with
// go1.26.8), in a repository made by `ipfs init --profile=test` with no
// Import settings changed, by
//
//	ipfs add --only-hash -Q --cid-version=1 --raw-leaves --hash=blake3 --chunker=SPEC FILE
//
// for FILE holding the bytes that vector.reader yields. The DAGs have one
// level (a single raw leaf, or a root over up to 174 leaves), two levels
// (more than 174 leaves) and three (more than 174*174 leaves, cheaply with
// size-1024).
var vectors = []vector{
	{"empty", 0, false, "size-1048576", "bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi"},
	{"empty default spec", 0, false, "", "bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi"},
	{"1MiB", MiB, false, "size-1048576", "bafkr4iduzncb7uehozgktq3jjwtuf27dbs7lgbqkc4ajzkayexd2ruidim"},
	{"1MiB+1", MiB + 1, false, "size-1048576", "bafyb4icils6plsswydxopwrpbejdiv5yuhdfxwe3yhfh7xjoeon332v6ru"},
	{"3MiB+7", 3*MiB + 7, false, "size-1048576", "bafyb4ihqk54vdsrp25mijxluxwkmpsju7vwmb5zs6exspfkj4vdoctejvu"},
	{"3MiB+7 default spec", 3*MiB + 7, false, "", "bafyb4ihqk54vdsrp25mijxluxwkmpsju7vwmb5zs6exspfkj4vdoctejvu"},
	{"3MiB+7 random", 3*MiB + 7, true, "size-1048576", "bafyb4ihaxjak7e5qqreg4mgwd75vbt6i2fsi4pd7ntp6ncgjo4kbqecj7i"},
	{"174MiB one full level", 174 * MiB, false, "size-1048576", "bafyb4ieqkwgvjkjyfhjr2ihalv3oasy7vbmjm52c63asl62advdzss7hgq"},
	{"174MiB+1 two levels", 174*MiB + 1, false, "size-1048576", "bafyb4ib7zwzuxg7dxqmovlxwodhhghooybxavxsl2jyng7mqilpxuzt6uu"},
	{"175MiB+1 two levels", 175*MiB + 1, false, "size-1048576", "bafyb4icn675hda5vood5d4f3ll67dqxgjibv2zg7itoiru7fas2rc7kdcy"},
	{"200MiB+12345 two levels", 200*MiB + 12345, false, "size-1048576", "bafyb4iausyfs7p3sqiatukuimowdicma52hbtmuk6wr433fkgfkhcyldle"},
	{"3MiB+7 size-1024", 3*MiB + 7, false, "size-1024", "bafyb4ic7eg773rt6apkn6bx45ivy3w2ca5tt3poo56jqhv5sqxcxwnjb3q"},
	{"174*174 KiB size-1024 two full levels", 174 * 174 * 1024, false, "size-1024", "bafyb4if6qnnq3l7xxtg4eztyo43bo4soj5rstmr6l2zhcoiu27n2bpvnwq"},
	{"174*174 KiB+1 size-1024 three levels", 174*174*1024 + 1, false, "size-1024", "bafyb4ihsaztmsp5gegggu4vpdcsc6srektnd2xltre277dako23e3omafa"},
	{"3MiB+7 size-262144", 3*MiB + 7, false, "size-262144", "bafyb4id2qrn7dghryhcldgl5vdsd3t7hklrns5gxr3arlauhsooejt2osa"},
	{"5MiB max size", 5 * MiB, false, "size-2096896", "bafyb4iatphglmd6xrwa72boskcspuom3xabjg4nyrnnomkwe5ezq5y7lza"},
	{"3MiB+7 random buzhash", 3*MiB + 7, true, "buzhash", "bafyb4ihaehqcfvb7b5bapxyicsr6awqu5dia3tv5ytnuetyxtkkacm6wp4"},
	{"3MiB+7 buzhash", 3*MiB + 7, false, "buzhash", "bafyb4icwgc2anftnwkvdavggp2wkt4yc2wyfavlooj4kdpvivleyfaveoe"},
	{"5MiB buzhash", 5 * MiB, false, "buzhash", "bafyb4ib6phieykthxtunyzchpo6gpx3i2fnvutnpehqt3lgqlmhto3bbki"},
}
