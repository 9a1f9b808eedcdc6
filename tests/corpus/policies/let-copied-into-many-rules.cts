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

let a0 = line.units
let a1 = a0 + a0
let a2 = a1 + a1
let a3 = a2 + a2
let a4 = a3 + a3
let a5 = a4 + a4
let a6 = a5 + a5
let a7 = a6 + a6
let a8 = a7 + a7
let a9 = a8 + a8
let a10 = a9 + a9
let a11 = a10 + a10
rule r0 { title "r" cites s when a11 > 0 info message "m" }
rule r1 { title "r" cites s when a11 > 1 info message "m" }
rule r2 { title "r" cites s when a11 > 2 info message "m" }
rule r3 { title "r" cites s when a11 > 3 info message "m" }
rule r4 { title "r" cites s when a11 > 4 info message "m" }
rule r5 { title "r" cites s when a11 > 5 info message "m" }
rule r6 { title "r" cites s when a11 > 6 info message "m" }
rule r7 { title "r" cites s when a11 > 7 info message "m" }
rule r8 { title "r" cites s when a11 > 8 info message "m" }
rule r9 { title "r" cites s when a11 > 9 info message "m" }
rule r10 { title "r" cites s when a11 > 10 info message "m" }
rule r11 { title "r" cites s when a11 > 11 info message "m" }
