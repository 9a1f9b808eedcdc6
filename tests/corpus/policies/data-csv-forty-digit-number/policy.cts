policy "corpus" {
  title "Corpus policy"
  payer "corpus"
  version "1"
  effective 2024-01-01
  governs "97550"
}

source s {
  title "A source"
  url "https://example.org"
}
table t from "data/t.csv" key code cites s
