"""llmcourse — the shared package of *How LLMs Work — build one from an RNN to RAG*.

Each module belongs to one chapter of the book and is named after its slug:

==================  ==========================================
module              chapter
==================  ==========================================
``data``            the story corpus and its entropy floor (used everywhere)
``intro``           Chapter 00 — the pipeline in one page
``tokenization``    Chapter 01 — tokenization
``ngram``           counting models (Chapter 00 demo, Chapter 02)
``grading``         exercise checks shared by every chapter
==================  ==========================================
"""

__version__ = "0.1.0"
