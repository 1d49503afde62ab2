/**
 * The browser side of the proof-of-work challenge, as source text inlined into the
 * challenge page (about 1.6 KB). WebCrypto `subtle.digest` first, batched 64 at a time
 * (native, fast even without a JIT: attack-protection.md §0.3); a compact pure-JS
 * SHA-256 when `crypto.subtle` is missing (plain-HTTP origins are not secure contexts).
 */

/** Pure-JS SHA-256 (FIPS 180-4); constants derived from prime roots, as the spec defines them. */
export const SHA256_JS = `function sha256(m){
var K=[],H=[],p=2,i,j;for(i=0;i<64;p++){for(j=2;j*j<=p&&p%j;j++);if(j*j>p){if(i<8)H[i]=(Math.sqrt(p)%1)*4294967296|0;K[i++]=(Math.cbrt(p)%1)*4294967296|0}}
var l=m.length,n=((l+72)>>6)<<6,b=new Uint8Array(n),w=new Int32Array(64),v;b.set(m);b[l]=128;v=new DataView(b.buffer);v.setUint32(n-4,l*8);
for(var o=0;o<n;o+=64){for(i=0;i<16;i++)w[i]=v.getUint32(o+i*4);
for(i=16;i<64;i++){var x=w[i-15],y=w[i-2];w[i]=((x>>>7|x<<25)^(x>>>18|x<<14)^(x>>>3))+w[i-7]+((y>>>17|y<<15)^(y>>>19|y<<13)^(y>>>10))+w[i-16]|0}
var a=H[0],c=H[1],d=H[2],e=H[3],f=H[4],g=H[5],h=H[6],k=H[7];
for(i=0;i<64;i++){var t=k+((f>>>6|f<<26)^(f>>>11|f<<21)^(f>>>25|f<<7))+((f&g)^(~f&h))+K[i]+w[i]|0,u=((a>>>2|a<<30)^(a>>>13|a<<19)^(a>>>22|a<<10))+((a&c)^(a&d)^(c&d))|0;k=h;h=g;g=f;f=e+t|0;e=d;d=c;c=a;a=t+u|0}
H[0]=H[0]+a|0;H[1]=H[1]+c|0;H[2]=H[2]+d|0;H[3]=H[3]+e|0;H[4]=H[4]+f|0;H[5]=H[5]+g|0;H[6]=H[6]+h|0;H[7]=H[7]+k|0}
var r=new Uint8Array(32);v=new DataView(r.buffer);for(i=0;i<8;i++)v.setUint32(i*4,H[i]);return r}`

/** The solver; expects `C` (challenge), `D` (bits) and `U` (verify URL without n). */
export const SOLVER_JS = `${SHA256_JS}
(async function(){var s=document.getElementById("s"),E=new TextEncoder(),t0=performance.now(),n=0,S=self.crypto&&crypto.subtle;
function ok(h){for(var b=D,i=0;b>0;i++,b-=8){if(h[i]&(b>=8?255:(65280>>b)&255))return false}return true}
try{if(!S)throw 0;for(;;){var q=[];for(var i=0;i<64;i++)q.push(S.digest("SHA-256",E.encode(C+":"+(n+i))));var hs=await Promise.all(q),f=-1;
for(i=0;i<64;i++)if(ok(new Uint8Array(hs[i]))){f=n+i;break}if(f>=0){n=f;break}n+=64}}
catch(_){for(n=0;!ok(sha256(E.encode(C+":"+n)));n++);}
if(s)s.textContent="Done, continuing…";location.replace(U+"&n="+n+"&ms="+Math.round(performance.now()-t0))})();`
