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


rule cubic {
  title "Three nested walks over the lines"
  cites s
  when any(a in claim.lines where any(b in claim.lines where any(c in claim.lines where c.units > a.units + b.units)))
  warn
  message "{line.code}"
}
