"""Measures the server's memory under compressed-body bombs.

Usage: python3 deploy/bodybomb.py PORT PID

Sends, to the TaskPulse on 127.0.0.1:PORT (process PID), four concurrent
POST /v1/progress whose gzip body decodes to 1 GiB, then four whose body is
the same gzipped twice, and prints the answers and the process's peak
resident memory (VmHWM) after each round.
"""
import gzip, io, socket, sys, threading, time
port=int(sys.argv[1]); pid=int(sys.argv[2])
def gz(data_iter):
    buf=io.BytesIO(); w=gzip.GzipFile(fileobj=buf,mode='wb',compresslevel=9)
    for chunk in data_iter: w.write(chunk)
    w.close(); return buf.getvalue()
zeros=b' '*(1<<20)
one=gz(zeros for _ in range(1024))          # 1 GiB of spaces
nested=gz([one])                             # the same, gzipped twice
def hwm():
    for l in open(f'/proc/{pid}/status'):
        if l.startswith(('VmHWM','VmRSS')): print('  ',l.strip())
def post(body, enc):
    s=socket.create_connection(('127.0.0.1',port)); s.settimeout(60)
    s.sendall(b'POST /v1/progress HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Encoding: '+enc+b'\r\nContent-Length: '+str(len(body)).encode()+b'\r\n\r\n'+body)
    try: r=s.recv(200).split(b'\r\n')[0]
    except Exception as e: r=str(e).encode()
    return r
print('single gzip body', len(one), 'bytes; nested', len(nested), 'bytes')
hwm()
for name, body, enc in [('gzip 1 GiB', one, b'gzip'), ('gzip, gzip 1 GiB', nested, b'gzip, gzip')]:
    t=time.time(); res=[]
    ths=[threading.Thread(target=lambda: res.append(post(body, enc))) for _ in range(4)]
    [x.start() for x in ths]; [x.join() for x in ths]
    print(name, 'x4 concurrent:', set(res), f'{time.time()-t:.1f}s'); hwm()
