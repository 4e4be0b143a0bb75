"""Queries and pipelines, one module per collection or concern.

Every function takes the database handle first and answers one question
(``movies.search``, ``comments.for_movie``); handlers never build queries.
"""
