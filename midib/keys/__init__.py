"""Answer-key semantics: profiles, PS3.15 Table E.1-1, derivation from the ledger, MIDI-B formats.

profile.py (Profile, load_profile), ps315.py (action_for), rules.py (nesting), derive.py
(derive_checks), midi_b.py / midi_b_read.py (official SQLite keys), midi_b_formula.py
(midi_b_score), mapping_csv.py (id_old,id_new CSVs). See docs/answer-key.md.
"""
