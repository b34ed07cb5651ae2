"""Wiring knowledge for people, on a PC or a Pi (CPython; never shipped to a
board: toolchain/firmware.py leaves this folder out):

  table    the one table of board headers and breakout pinouts (the scan's
           advice and the guide's pictures are both drawn from it)
  explain  the facts drivers/survey.py gathered, put into plain words
"""
