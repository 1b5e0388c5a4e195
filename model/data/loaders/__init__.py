"""Loaders: one module per source format, each turning files into a `model.data.records.InteractionDataset`.

- `recbole`: RecBole atomic files (`*.inter` + `*.item`, typed headers), e.g. the bundled MovieLens-100K.
- `grouplens`: MovieLens 100K as GroupLens publishes it (`u.data` + `u.item`).
- `lcrec`: LC-Rec style JSON (`*.inter.json` + optional `*.item.json`), e.g. Amazon Scientific and Beauty.
- `amazon_raw`: raw Amazon Reviews 2018 review + metadata JSON lines, with iterative k-core filtering.
`common` holds what they share (index assignment, file reading, error locations); `kcore` the k-core filter.
Which dataset name maps to which loader and files lives in `model.data.registry`, not here.
"""
