"""The reminder lifecycle: its states, the steps between them, and the rules
of sending and of receipts.

- :mod:`.states`: the one table of states and of the steps allowed from each;
- :mod:`.transitions`: one step of one reminder, atomic (compare-and-set);
- :mod:`.sending`: what the dispatcher decides about a due reminder, and how
  a provider's answer moves it (retry, fail and fall back, sent);
- :mod:`.receipts`: what providers report afterwards (delivered or not).
"""
